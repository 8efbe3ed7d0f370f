"""Ranks remote suppliers, who match at any distance, by how well their hours suit the user.

A remote supplier's score is how many of its weekly-rule slots a week start inside the user's
local hours (08:00-20:00 when the user names none). Scoring every remote supplier slot by slot
would cost milliseconds each; instead each keeps a count of slot starts per local hour of the
day, summed over the week (the user's hours repeat daily, so the weekday adds nothing), and a
query shifts the user's hours into each supplier zone's hours at the window's start and sums
the counts. Suppliers share a few distinct counts (feeds repeat their hours), so each distinct
count is scored once per shift and the suppliers take their count's score.

Scores change only when the hours or some zone's offset from the user's does: between two UTC
offset changes of any zone in use, a query's scores and its best-first order are the same, and
are cached by that interval, the user's offset and the hours.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from functools import cached_property, lru_cache, partial

import numpy as np
import numpy.typing as npt

from matcher.geo.zonetable import zone_table
from matcher.instants import to_micros
from matcher.model import Availability, LocalHours, WeeklyRule

HOURS_PER_DAY = 24
MINUTES_PER_DAY = HOURS_PER_DAY * 60
#: Rankings kept per ranker (the first TOP suppliers and their scores, about 12 kB each): more
#: than the distinct UTC offsets users have, by the hours asked.
RANKINGS_KEPT = 256
#: Suppliers put in order once per ranking; readers wanting more are served by partitions.
TOP = 1024
#: Zone offset changes indexed for caching, up to this instant (2200-01-01); later instants
#: are scored afresh on every query.
INDEXED_UNTIL = 7_258_118_400
BUCKET_MIDDLES = np.arange(HOURS_PER_DAY) * 60 + 30  # minute of the day mid-way through each hour

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]


def daily_histogram(availability: Availability) -> Floats:
    """Slot starts per local hour of the day of the weekly rules, summed over the week's days."""
    return _histogram(availability.weekly)


@lru_cache(maxsize=1 << 14)
def _histogram(weekly: tuple[WeeklyRule, ...]) -> Floats:
    """daily_histogram's counts, made once per distinct list of rules (feeds repeat a few)."""
    counts = np.zeros(HOURS_PER_DAY, dtype=np.float32)
    for rule in weekly:
        hours = np.asarray(rule.minutes, dtype=np.int64) // 60
        np.add.at(counts, hours, float(len(rule.days)))
    counts.flags.writeable = False  # shared by every supplier with these rules
    return counts


@lru_cache(maxsize=256)
def hours_mask(hours: LocalHours) -> npt.NDArray[np.bool_]:
    """For each minute of the user's local day, whether the user's hours admit it (read-only)."""
    minute = np.arange(MINUTES_PER_DAY)
    if hours.start_minute <= hours.end_minute:
        mask = (minute >= hours.start_minute) & (minute < hours.end_minute)
    else:
        mask = (minute >= hours.start_minute) | (minute < hours.end_minute)
    mask.flags.writeable = False  # shared by every query with these hours
    return mask


class Ranking:
    """One query's best remote suppliers, in order (best score first, ties by position in the
    ranker), with their scores: the first ``TOP`` kept, the rest scored again on demand.
    Read-only, shared by the queries with the same key, and small enough to keep many."""

    def __init__(self, scores: Floats, *, again: Callable[[], Floats]) -> None:
        found = min(TOP, len(scores))
        top = np.argpartition(-scores, found - 1)[:found] if found else np.empty(0, np.int64)
        threshold = scores[top].min() if found else np.float32(0)
        top = np.flatnonzero(scores >= threshold)  # ties at the edge stay together, in order
        self.top = top[np.lexsort((top, -scores[top]))]
        self.top_scores = scores[self.top]
        self.everyone = len(scores)
        self._again = again
        for kept in (self.top, self.top_scores):
            kept.flags.writeable = False

    def best_first(self) -> Iterator[tuple[Ints, Floats]]:
        """Indices by descending score (ties by index) and their scores, a run at a time: the
        kept head, then the rest, sorted only as far as the caller reads."""
        yield self.top, self.top_scores
        if len(self.top) == self.everyone:
            return
        scores = self._again()
        rest = np.ones(len(scores), dtype=bool)
        rest[self.top] = False
        remaining = np.flatnonzero(rest)
        chunk = 4 * len(self.top)
        while len(remaining):
            keys = -scores[remaining]
            if chunk < len(remaining):
                threshold = np.partition(keys, chunk - 1)[chunk - 1]
                head = np.flatnonzero(keys <= threshold)
            else:
                head = np.arange(len(remaining))
            head = head[np.lexsort((remaining[head], keys[head]))]
            yield remaining[head], scores[remaining[head]]
            remaining = np.delete(remaining, head)
            chunk *= 4


class RemoteRanker:
    """Score remote suppliers (given by catalogue position) for a user's zone and hours."""

    def __init__(
        self, positions: Sequence[int], zones: Sequence[str], histograms: Sequence[Floats]
    ) -> None:
        order = sorted(range(len(positions)), key=lambda k: zones[k])
        self.positions = np.asarray([positions[k] for k in order], dtype=np.int64)
        kinds: dict[int, int] = {}  # id(histogram) -> its row among the distinct ones
        distinct: list[Floats] = []
        chosen = np.empty(len(order), dtype=np.int32)
        for at, k in enumerate(order):
            row = kinds.setdefault(id(histograms[k]), len(distinct))
            if row == len(distinct):
                distinct.append(histograms[k])
            chosen[at] = row
        self._kinds = chosen
        self._distinct = np.asarray(distinct, dtype=np.float32).reshape(-1, HOURS_PER_DAY)
        self._groups: list[tuple[str, int, int]] = []
        for k, name in enumerate(zones[j] for j in order):
            if self._groups and self._groups[-1][0] == name:
                self._groups[-1] = (name, self._groups[-1][1], k + 1)
            else:
                self._groups.append((name, k, k + 1))
        self._rankings: OrderedDict[tuple[object, ...], Ranking] = OrderedDict()
        self._offsets: dict[int, tuple[int, ...]] = {}  # interval -> each group's offset
        self._lock = threading.Lock()

    def ranked(
        self, *, user_zone: str, hours: LocalHours, at: datetime
    ) -> Iterator[tuple[Ints, Floats]]:
        """Indices into ``positions`` and scores, best first, a run at a time (``Ranking``)."""
        return self.ranking(user_zone=user_zone, hours=hours, at=at).best_first()

    def ranking(self, *, user_zone: str, hours: LocalHours, at: datetime) -> Ranking:
        """The scores and order for a user's zone and hours at an instant, cached by the
        interval between zone offset changes that holds the instant."""
        second = to_micros(at) // 1_000_000
        user_offset = zone_table(user_zone).offset_of(second) // 60
        interval = int(self._changes.searchsorted(second, side="right"))
        if second >= INDEXED_UNTIL:
            offsets = self._offsets_at(second)
            key: tuple[object, ...] = (hours, user_offset, offsets)
        else:
            key = (hours, user_offset, interval)
        with self._lock:
            found = self._rankings.get(key)
            if found is not None:
                self._rankings.move_to_end(key)
                return found
        if second < INDEXED_UNTIL:
            offsets = self._offsets.get(interval) or self._offsets.setdefault(
                interval, self._offsets_at(second)
            )
        shifts = tuple(offset // 60 - user_offset for offset in offsets)
        ranking = Ranking(self._scored(hours, shifts), again=partial(self._scored, hours, shifts))
        with self._lock:
            self._rankings[key] = ranking
            while len(self._rankings) > RANKINGS_KEPT:
                self._rankings.popitem(last=False)
        return ranking

    @cached_property
    def _changes(self) -> Ints:
        """Every instant (epoch seconds) before ``INDEXED_UNTIL`` at which some group's zone
        changes its offset, ascending."""
        found = [zone_table(name).utc for name, _, _ in self._groups]
        every = np.unique(np.concatenate(found)) if found else np.empty(0, dtype=np.int64)
        return every[every < INDEXED_UNTIL]

    def _offsets_at(self, second: int) -> tuple[int, ...]:
        """Each group's zone offset (seconds) at an instant."""
        return tuple(zone_table(name).offset_of(second) for name, _, _ in self._groups)

    def _scored(self, hours: LocalHours, shifts: tuple[int, ...]) -> Floats:
        """Scores for the hours, each zone group shifted by its offset from the user's, in
        minutes: each distinct histogram scored once per distinct shift."""
        admitted = hours_mask(hours)
        result = np.empty(len(self.positions), dtype=np.float32)
        by_shift: dict[int, Floats] = {}
        for (_, start, stop), shift in zip(self._groups, shifts, strict=True):
            if shift not in by_shift:
                mask = admitted[(BUCKET_MIDDLES - shift) % MINUTES_PER_DAY].astype(np.float32)
                by_shift[shift] = self._distinct @ mask
            result[start:stop] = by_shift[shift][self._kinds[start:stop]]
        result.flags.writeable = False  # shared by every query with the same key
        return result
