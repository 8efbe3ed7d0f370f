"""A zone's UTC offsets as numpy tables: many instants or wall times turned at once.

A table is read from the very TZif file ``zoneinfo`` reads (its TZPATH first, then the tzdata
package), rule footer included, and follows zoneinfo's arithmetic, so the two agree at every
instant: zoneinfo stays the reference (and is what the tests compare against), the table is the
fast path. pytz's ``_utc_transition_times`` would not do: pytz bundles its own copy of the tz
database (another release than the system's, which zoneinfo prefers) and keeps only the 32-bit
table, which stops in 2037 with no rule after it.

After a file's last transition its footer's POSIX rule holds. Rule dates repeat every 400
Gregorian years (146,097 days, a whole number of weeks), so a table spells the rule out for one
such period and folds later instants into it: any instant up to year 9999 is one searchsorted.
"""

from __future__ import annotations

import os
import re
import struct
import zoneinfo
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from matcher.geo.timezones import known_zones

Seconds = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]

DAY = 86_400
#: 400 Gregorian years in seconds: the period of every POSIX rule's dates.
PERIOD = 146_097 * DAY
_HEADER = struct.Struct(">4sc15x6l")
_TTINFO = np.dtype([("utoff", ">i4"), ("isdst", "u1"), ("abbr", "u1")])
_NAME = r"(?:[^<0-9:.+-]+|<[a-zA-Z0-9+-]+>)"
_DELTA = r"[+-]?\d{1,3}(?::\d{2}(?::\d{2})?)?"
_TZ = re.compile(rf"{_NAME}(?:(?P<std>{_DELTA})(?:(?P<dst>{_NAME})(?P<dstoff>{_DELTA})?)?)?", re.A)
_CLOCK = re.compile(r"(?P<sign>[+-])?(?P<h>\d{1,3})(?::(?P<m>\d{2})(?::(?P<s>\d{2}))?)?", re.A)
_NEVER = 1 << 62
_S = TypeVar("_S", int, Seconds)
_MONTH_RULE = re.compile(r"M(\d{1,2})\.(\d)\.(\d)", re.A)


@dataclass(frozen=True, eq=False)
class ZoneTable:
    """One zone's offsets: ``offsets[i]`` holds from ``utc[i-1]`` until ``utc[i]``."""

    key: str
    utc: Seconds  # transition instants, ascending, each one changing the offset
    walls: Seconds  # the wall time from which a fold-0 wall time takes the next offset
    offsets: Seconds  # one more than transitions: before the first, then after each
    periodic_from: int | None  # from this instant on offsets repeat every PERIOD; None: constant

    @cached_property
    def folds_from(self) -> int:
        """The first instant (or wall time) that is moved back into the spelled-out period."""
        return _NEVER if self.periodic_from is None else self.periodic_from + PERIOD

    def offset_at(self, instants: Seconds) -> Seconds:
        """The UTC offset at each instant (epoch seconds)."""
        return self.offsets[self.utc.searchsorted(self._folded(instants), side="right")]

    def wall_offset(self, walls: Seconds) -> Seconds:
        """The offset zoneinfo gives each naive wall time (fold 0): in a gap the one before it,
        in a fold the first."""
        return self.offsets[self.walls.searchsorted(self._folded(walls), side="right")]

    def instants(self, walls: Seconds) -> tuple[Seconds, Flags]:
        """Each wall time's instant (its first occurrence in a fold) and whether it exists: a
        wall time in a spring-forward gap does not."""
        found = walls - self.wall_offset(walls)
        return found, found + self.offset_at(found) == walls

    def offset_of(self, instant: int) -> int:
        """The UTC offset at one instant (epoch seconds)."""
        if instant >= self.folds_from:
            instant = self._fold(instant)
        return int(self.offsets[self.utc.searchsorted(instant, side="right")])

    def steady(self, first: int, *, until: int) -> int | None:
        """The offset from instant ``first`` to ``until`` (seconds), if it holds all that time."""
        last = until
        if last >= self.folds_from:
            if first < self.folds_from:
                return None
            first, last = self._fold(first), self._fold(last)
            if first > last:
                return None
        at = self.utc.searchsorted(first, side="right")
        if at != self.utc.searchsorted(last, side="right"):
            return None
        return int(self.offsets[at])

    def _folded(self, seconds: Seconds) -> Seconds:
        """Seconds past the spelled-out rule period moved back by whole periods into it."""
        if not len(seconds) or seconds.max() < self.folds_from:
            return seconds
        return np.where(seconds >= self.folds_from, self._fold(seconds), seconds)

    def _fold(self, seconds: _S) -> _S:
        """Seconds moved back by whole periods to the spelled-out one (only for a periodic
        table, and only seconds past its start)."""
        assert self.periodic_from is not None
        return self.periodic_from + (seconds - self.periodic_from) % PERIOD


@lru_cache(maxsize=1024)
def zone_table(key: str) -> ZoneTable:
    """The cached table of an IANA zone; KeyError for a name tzdata does not know."""
    if key not in known_zones():
        raise KeyError(key)
    return read_tzif(_tzif_bytes(key), key=key)


def _tzif_bytes(key: str) -> bytes:
    """The TZif file zoneinfo would load for a key: the first on its TZPATH, else tzdata's."""
    for root in zoneinfo.TZPATH:
        path = os.path.join(root, key)
        if os.path.isfile(path):
            with open(path, "rb") as file:
                return file.read()
    return resources.files("tzdata.zoneinfo").joinpath(*key.split("/")).read_bytes()


def read_tzif(data: bytes, *, key: str) -> ZoneTable:
    """A table from a TZif file's bytes, read as zoneinfo reads them (RFC 8536)."""
    times, kinds, utoff, isdst, footer = _tzif_parts(data)
    standard = np.flatnonzero(isdst == 0)
    # zoneinfo: before the first transition, the first standard-time type (else type 0)
    before = int(utoff[standard[0] if len(standard) else 0]) if len(utoff) else 0
    after = utoff[kinds]
    # zoneinfo's fold-0 wall boundary is the larger of the two offsets (its first uses type 0)
    previous = np.concatenate([utoff[:1], after[:-1]])
    walls = times + np.maximum(previous, after)
    offsets = np.concatenate([[before], after])
    rule = _parse_footer(footer) if footer else None
    if rule is None and not len(times):
        offsets = utoff[:1].copy()  # no footer, no transition: zoneinfo keeps type 0
    periodic_from = None
    if isinstance(rule, int) or (isinstance(rule, _Rule) and rule.std == rule.dst):
        fixed = rule if isinstance(rule, int) else rule.std
        if not len(times):
            offsets = np.array([fixed], dtype=np.int64)
        elif fixed != offsets[-1]:
            last = int(times[-1]) + 1  # zoneinfo applies the footer after the last transition
            times = np.append(times, last)
            walls = np.append(walls, last + max(fixed, int(offsets[-1])))
            offsets = np.append(offsets, fixed)
    elif isinstance(rule, _Rule):
        final = int(times[-1]) if len(times) else None
        more, more_offsets, periodic_from = rule.spelled_out(after=final)
        if final is None:
            offsets = more_offsets[:1].copy()
        bounds = np.concatenate([offsets[-1:], more_offsets])
        times = np.concatenate([times, more])
        walls = np.concatenate([walls, more + np.maximum(bounds[:-1], bounds[1:])])
        offsets = np.concatenate([offsets, more_offsets])
    changes = np.flatnonzero(offsets[1:] != offsets[:-1])
    return ZoneTable(
        key=key,
        utc=times[changes],
        walls=walls[changes],
        offsets=np.concatenate([offsets[:1], offsets[1:][changes]]),
        periodic_from=periodic_from,
    )


def _tzif_parts(data: bytes) -> tuple[Seconds, npt.NDArray[np.intp], Seconds, Seconds, str]:
    """Transition instants, their types, each type's offset and DST flag, and the footer."""
    magic, version, *counts = _HEADER.unpack_from(data, 0)
    if magic != b"TZif":
        raise ValueError("not a TZif file")
    position, size = _HEADER.size, 4
    if version != b"\0":  # version 2+: skip the 32-bit block to the 64-bit one
        isut, isstd, leap, timecnt, typecnt, charcnt = counts
        position += timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut
        magic, _, *counts = _HEADER.unpack_from(data, position)
        position, size = position + _HEADER.size, 8
    isut, isstd, leap, timecnt, typecnt, charcnt = counts
    times = np.frombuffer(data, dtype=f">i{size}", count=timecnt, offset=position)
    position += timecnt * size
    kinds = np.frombuffer(data, dtype=np.uint8, count=timecnt, offset=position)
    position += timecnt
    types = np.frombuffer(data, dtype=_TTINFO, count=typecnt, offset=position)
    position += typecnt * 6 + charcnt + leap * (size + 4) + isstd + isut
    footer = data[position:].decode("ascii").strip("\n") if size == 8 else ""
    return (
        times.astype(np.int64),
        kinds.astype(np.intp),
        types["utoff"].astype(np.int64),
        types["isdst"].astype(np.int64),
        footer,
    )


@dataclass(frozen=True)
class _Date:
    """A POSIX rule's date of change in a year (Mm.w.d, Jn or n) and local time of day."""

    kind: str  # "M", "J" or "n"
    month: int
    week: int
    day: int  # weekday (0 is Sunday) for M, day of the year for J and n
    seconds: int  # local time of day, -167 to 167 hours

    def local(self, years: Seconds) -> Seconds:
        """The change's local time in each year, as seconds of the wall clock since 1970.

        The same arithmetic as zoneinfo's (``_CalendarOffset``, ``_DayOffset``), quirks of the
        ``J`` and ``n`` forms included, since zoneinfo is the reference.
        """
        if self.kind == "M":
            months = (years - 1970) * 12 + (self.month - 1)
            first = _days(months.astype("datetime64[M]"))
            length = _days((months + 1).astype("datetime64[M]")) - first
            monday_based = (first + 3) % 7  # 1970-01-01 was a Thursday
            day = (self.day - (monday_based + 1)) % 7 + 1 + (self.week - 1) * 7
            day = np.where(day > length, day - 7, day)
            return (first + day - 1) * DAY + self.seconds
        before_year = _days((years - 1970).astype("datetime64[Y]")) - 1
        leap = (years % 4 == 0) & ((years % 100 != 0) | (years % 400 == 0))
        skips = leap & (self.day >= 59) if self.kind == "J" else np.zeros(len(years), dtype=bool)
        days: Seconds = before_year + self.day + skips.astype(np.int64)
        return days * DAY + self.seconds


@dataclass(frozen=True)
class _Rule:
    """A footer with daylight saving: standard and DST offsets and the two dates of change."""

    std: int
    dst: int
    start: _Date  # DST starts, in standard local time
    end: _Date  # DST ends, in DST local time

    def spelled_out(self, *, after: int | None) -> tuple[Seconds, Seconds, int]:
        """Every change after an instant (all if None) for a bit over 400 years, the offset
        after each, and the instant from which offsets repeat every PERIOD.

        As zoneinfo's ``fromutc`` does, an instant takes the rule of its UTC year: the offset
        can change only at one of that year's two dates or where the UTC year turns, so the
        offset is worked out at each such candidate and holds until the next.
        """
        first_year = 1800 if after is None else _years(np.array([after]))[0] - 1
        periodic_year = first_year + 3
        years = np.arange(first_year, periodic_year + 402, dtype=np.int64)
        starts = self.start.local(years) - self.std
        ends = self.end.local(years) - self.dst
        new_years = _days((years - 1970).astype("datetime64[Y]")) * DAY
        candidates = np.concatenate([starts, ends, new_years])
        if after is not None:
            candidates = np.append(candidates[candidates > after], after + 1)
        candidates = np.unique(
            candidates[(candidates >= new_years[0]) & (candidates < new_years[-1])]
        )
        k = _years(candidates) - first_year
        begin, finish = starts[k], ends[k]
        dst = np.where(
            begin < finish,
            (begin <= candidates) & (candidates < finish),
            ~((finish <= candidates) & (candidates < begin)),
        )
        offsets = np.where(dst, self.dst, self.std)
        return candidates, offsets, int(new_years[periodic_year - first_year])


def _days(dates: npt.NDArray[np.datetime64]) -> Seconds:
    """Days since 1970-01-01 of the first day of each month or year."""
    return dates.astype("datetime64[D]").astype(np.int64)


def _years(instants: Seconds) -> Seconds:
    """The UTC calendar year of each instant."""
    return instants.astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64) + 1970


def _parse_footer(text: str) -> int | _Rule:
    """A TZif footer (a POSIX TZ string) as a fixed offset or a DST rule, as zoneinfo reads it."""
    zone, _, rules = text.partition(",")
    found = _TZ.fullmatch(zone)
    if found is None:
        raise ValueError(f"{text!r} is not a TZ string")
    std = -_clock(found["std"]) if found["std"] else 0
    if found["dst"] is None:
        if rules:
            raise ValueError(f"{text!r}: a rule without DST")
        return std
    dst = -_clock(found["dstoff"]) if found["dstoff"] else std + 3600
    start, _, end = rules.partition(",")
    if not end:
        raise ValueError(f"{text!r}: missing transition rules")
    return _Rule(std=std, dst=dst, start=_date(start), end=_date(end))


def _date(text: str) -> _Date:
    """One ``date[/time]`` of a POSIX rule; the time defaults to 02:00."""
    when, _, clock = text.partition("/")
    seconds = _clock(clock) if clock else 2 * 3600
    month = _MONTH_RULE.fullmatch(when)
    if month is not None:
        m, w, d = (int(g) for g in month.groups())
        if not (1 <= m <= 12 and 1 <= w <= 5 and 0 <= d <= 6):
            raise ValueError(f"{text!r} is not a rule date")
        return _Date(kind="M", month=m, week=w, day=d, seconds=seconds)
    julian = when.startswith("J")
    day = int(when[1:] if julian else when)
    if not int(julian) <= day <= 365:
        raise ValueError(f"{text!r} is not a rule date")
    return _Date(kind="J" if julian else "n", month=0, week=0, day=day, seconds=seconds)


def _clock(text: str) -> int:
    """``[+-]hh[:mm[:ss]]`` as signed seconds."""
    found = _CLOCK.fullmatch(text)
    if found is None:
        raise ValueError(f"{text!r} is not a time")
    h, m, s = (int(v or 0) for v in found.group("h", "m", "s"))
    seconds = h * 3600 + m * 60 + s
    return -seconds if found["sign"] == "-" else seconds
