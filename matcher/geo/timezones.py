"""Point → IANA timezone (timezonefinder) and a zone's state at an instant (zoneinfo + tzdata)."""

from __future__ import annotations

import csv
import io
import threading
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from timezonefinder import TimezoneFinder

from matcher.errors import InvalidArgument, Reason
from matcher.instants import EARLIEST, LATEST
from matcher.model import CountryZone, Point, ZoneState

#: Written by devtools/country_zones.py; shipped in the package beside this module.
COUNTRY_ZONES = "country_zones.csv"


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """A cached ZoneInfo; raises KeyError for a name tzdata does not know."""
    if name not in known_zones():
        raise KeyError(name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise KeyError(name) from exc


#: Files of a zoneinfo directory that name no place: the host's own zone (whatever it is set
#: to), tzdata's "Factory" placeholder ("-00") and the POSIX default rules.
NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    """Every IANA zone id the bundled tzdata knows that names a place."""
    return frozenset(available_timezones()) - NOT_ZONES


def zone_or_invalid(name: str, *, field: str) -> ZoneInfo:
    """A zone named by a caller, or INVALID_ARGUMENT naming the field."""
    try:
        return zone(name)
    except KeyError:
        raise InvalidArgument.of(field, f"{name!r} is not an IANA timezone id") from None


def state_at(name: str, *, at: datetime) -> ZoneState:
    """The offset, DST flag and abbreviation of a zone at an aware instant."""
    local = at.astimezone(zone(name))
    offset = local.utcoffset()
    dst = local.dst()
    assert offset is not None and dst is not None  # always set for a ZoneInfo-aware datetime
    return ZoneState(
        zone=name,
        utc_offset_seconds=int(offset.total_seconds()),
        dst=bool(dst),
        abbreviation=local.tzname() or "",
    )


def utc_offset_seconds(name: str, *, at: datetime) -> int:
    """A zone's UTC offset at an aware instant: ``state_at``'s offset alone, for hot loops."""
    offset = at.astimezone(zone(name)).utcoffset()
    assert offset is not None  # always set for a ZoneInfo-aware datetime
    return int(offset.total_seconds())


#: How far ahead two zones must agree to count as keeping the same time, and how finely.
SAME_RULES_HORIZON = timedelta(days=366)
SAME_RULES_STEP = timedelta(hours=1)


def same_rules(a: str, b: str, *, since: datetime) -> bool:
    """Whether two zones show the same UTC offset at every hour of the year from ``since``.

    Zones that merely have different names (Europe/Oslo and Arctic/Longyearbyen, or a country's
    zone and the nautical zone of its waters) give every slot the same instant and local time.
    """
    day = min(max(since, EARLIEST), LATEST).date()  # a year on from 9999 is beyond Python's dates
    return a == b or _hourly_offsets(a, day) == _hourly_offsets(b, day)


@lru_cache(maxsize=256)
def _hourly_offsets(name: str, day: date) -> tuple[int, ...]:
    """A zone's UTC offset in seconds at each hour of the year from a UTC midnight."""
    tz = zone(name)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    steps = int(SAME_RULES_HORIZON / SAME_RULES_STEP)
    offsets = []
    for k in range(steps):
        offset = (start + k * SAME_RULES_STEP).astimezone(tz).utcoffset()
        assert offset is not None  # always set for a ZoneInfo-aware datetime
        offsets.append(int(offset.total_seconds()))
    return tuple(offsets)


def ocean_zone(*, lng: float) -> str:
    """The nautical zone (Etc/GMT±N, sign inverted by POSIX) for open sea at a longitude."""
    hours = round(lng / 15.0)
    if hours == 0:
        return "Etc/GMT"
    return f"Etc/GMT{-hours:+d}"


class TimezoneResolver:
    """Resolves points to IANA zone ids; one instance is shared, so lookups are serialised."""

    def __init__(self, *, in_memory: bool = False) -> None:
        self._finder = TimezoneFinder(in_memory=in_memory)
        self._lock = threading.Lock()

    def zone_at(self, p: Point) -> str:
        """The zone id at a point; open sea falls back to its nautical zone."""
        with self._lock:
            name = self._finder.timezone_at(lng=p.lng, lat=p.lat)
        return name if name else ocean_zone(lng=p.lng)


@lru_cache(maxsize=1)
def country_zones() -> dict[str, CountryZone]:
    """Each country's most populous legal time (country_zones.csv, by devtools.country_zones)."""
    text = resources.files("matcher.geo").joinpath(COUNTRY_ZONES).read_text()
    return {
        row["country"]: CountryZone(
            country_code=row["country"],
            zone=row["zone"],
            population_share=float(row["population_share"]),
        )
        for row in csv.DictReader(io.StringIO(text))
    }


def country_zone(code: str, *, min_share: float, field: str) -> CountryZone:
    """The zone a country code stands for: the zone of the legal time that at least
    ``min_share`` of the country's people keep; INVALID_ARGUMENT asking for a finer location
    when no legal time holds that many."""
    found = country_zones().get(code.upper()) if len(code) == 2 else None
    if found is None:
        raise InvalidArgument.of(field, f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    if not found.zone or found.population_share < min_share:
        held = f"{found.population_share:.0%} of its people, " if found.zone else ""
        raise InvalidArgument.of(
            field,
            f"{found.country_code} keeps several legal times; the most populous holds {held}"
            f"under the {min_share:.0%} a country needs: send a point or a geohash",
            reason=Reason.LOCATION_TOO_COARSE,
            metadata={"country_code": found.country_code},
        )
    return found
