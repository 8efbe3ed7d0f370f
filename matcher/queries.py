"""Turns a caller's raw request values into validated domain values, naming any bad field."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from matcher.errors import InvalidArgument
from matcher.geometry import Point, coarsen, decode_geohash, point
from matcher.slots import EARLIEST, LATEST, LocalHours, Window, minute_of_day
from matcher.timezones import TimezoneResolver, country_zone


@dataclass(frozen=True)
class Limits:
    """Defaults and bounds of a query; the service's configuration may change them."""

    cell_km: float = 1.0
    default_radius_km: float = 25.0
    max_radius_km: float = 500.0
    default_window: timedelta = timedelta(days=7)
    max_window: timedelta = timedelta(days=31)
    default_page_size: int = 20
    max_page_size: int = 100
    default_slots: int = 10
    max_slots: int = 100
    default_listed_slots: int = 100
    max_listed_slots: int = 1000
    max_slot_checks: int = 100


@dataclass(frozen=True)
class UserLocation:
    """Where a user is, as coarsely as the service ever holds it, and the user's zone."""

    point: Point | None  # None for a country: only its zone is known
    zone: str


def locate(
    *,
    resolver: TimezoneResolver,
    limits: Limits,
    lat: float | None = None,
    lng: float | None = None,
    geohash: str | None = None,
    country_code: str | None = None,
    field: str = "location",
) -> UserLocation:
    """Resolves exactly one form of location, coarsened before anything else sees it."""
    if lat is not None and lng is not None:
        raw = point(lat=lat, lng=lng, field=f"{field}.point")
    elif geohash is not None:
        raw = decode_geohash(geohash, field=f"{field}.geohash")
    elif country_code is not None:
        return UserLocation(
            point=None, zone=country_zone(country_code, field=f"{field}.country_code")
        )
    else:
        raise InvalidArgument.of(field, "is required: a point, a geohash or a country_code")
    coarse = coarsen(raw, cell_km=limits.cell_km)
    return UserLocation(point=coarse, zone=resolver.zone_at(coarse))


def radius(value: float, *, limits: Limits, field: str = "radius_km") -> float:
    """A search radius: 0 means the default; otherwise positive and bounded."""
    if not math.isfinite(value) or value < 0:
        raise InvalidArgument.of(field, "must be a finite, non-negative number of kilometres")
    if value > limits.max_radius_km:
        raise InvalidArgument.of(field, f"must be at most {limits.max_radius_km:g} km")
    return value or limits.default_radius_km


def window(
    start: datetime | None,
    end: datetime | None,
    *,
    now: datetime,
    limits: Limits,
    field: str = "window",
) -> Window:
    """A half-open window: unset parts default to now and the default length; bounded in length."""
    begin = _supported(start or now, field=f"{field}.start")
    finish = _supported(end or begin + limits.default_window, field=f"{field}.end")
    if finish <= begin:
        raise InvalidArgument.of(f"{field}.end", "must be after window.start")
    if finish - begin > limits.max_window:
        raise InvalidArgument.of(field, f"must span at most {limits.max_window.days} days")
    return Window(start=begin, end=finish)


def _supported(instant: datetime, *, field: str) -> datetime:
    """An instant in the years slots can be computed for: local dates a day either side exist."""
    if not EARLIEST <= instant <= LATEST:
        raise InvalidArgument.of(
            field, f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)"
        )
    return instant


def count(value: int, *, default: int, most: int, field: str) -> int:
    """A page size or slot count: 0 means the default; otherwise within [1, most]."""
    if value < 0 or value > most:
        raise InvalidArgument.of(field, f"must be between 0 (the default, {default}) and {most}")
    return value or default


def local_hours(start: str, end: str, *, field: str = "local_hours") -> LocalHours:
    """User-local hours from two "HH:MM" strings; equal ends would admit nothing."""
    minutes = [
        _minute(text, field=f"{field}.{name}") for name, text in (("start", start), ("end", end))
    ]
    if minutes[0] == minutes[1]:
        raise InvalidArgument.of(f"{field}.end", "must differ from start")
    return LocalHours(start_minute=minutes[0], end_minute=minutes[1])


def _minute(text: str, *, field: str) -> int:
    """Minutes after midnight of "HH:MM"."""
    minute = minute_of_day(text)
    if minute is None:
        raise InvalidArgument.of(field, f"must be HH:MM between 00:00 and 24:00, got {text!r}")
    return minute
