"""Raw request values → validated domain values, each refusal naming the field to fix."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from matcher.errors import InvalidArgument
from matcher.geo.geometry import coarsen, decode_geohash
from matcher.geo.timezones import TimezoneResolver
from matcher.model import LocalHours, Point, UserLocation, Window
from matcher.queries import (
    HoursInput,
    LocationInput,
    WindowInput,
    count,
    local_hours,
    locate,
    radius,
    window,
)
from matcher.settings import Limits

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
LIMITS = Limits()


def window_of(start: datetime | None, end: datetime | None) -> Window:
    return window(WindowInput(start=start, end=end), now=NOW, limits=LIMITS, field="window")


def radius_of(value: float) -> float:
    return radius(value, limits=LIMITS, field="radius_km")


def hours_of(start: str, end: str) -> LocalHours | None:
    return local_hours(HoursInput(start=start, end=end), field="local_hours")


def located(
    resolver: TimezoneResolver,
    *,
    limits: Limits = LIMITS,
    lat: float | None = None,
    lng: float | None = None,
    geohash: str | None = None,
    country_code: str | None = None,
) -> UserLocation:
    lat_lng = (lat, lng) if lat is not None and lng is not None else None
    where = LocationInput(lat_lng=lat_lng, geohash=geohash, country_code=country_code)
    return locate(where, resolver=resolver, limits=limits, field="location")


def refused_field(call: Callable[..., object], *args: object, **kwargs: object) -> str:
    """The single field a refused call names."""
    with pytest.raises(InvalidArgument) as raised:
        call(*args, **kwargs)
    (violation,) = raised.value.violations
    return violation.field


# window()


def test_window_defaults_to_now_and_seven_days() -> None:
    assert window_of(None, None) == Window(NOW, NOW + timedelta(days=7))


def test_window_end_defaults_to_seven_days_after_its_start() -> None:
    start = NOW + timedelta(days=2)
    assert window_of(start, None) == Window(start, start + timedelta(days=7))


def test_window_start_defaults_to_now() -> None:
    end = NOW + timedelta(days=1)
    assert window_of(None, end) == Window(NOW, end)


def test_window_of_31_days_is_accepted() -> None:
    end = NOW + timedelta(days=31)
    assert window_of(NOW, end) == Window(NOW, end)


def test_window_longer_than_31_days_is_refused() -> None:
    end = NOW + timedelta(days=31, seconds=1)
    assert refused_field(window_of, NOW, end) == "window"


@pytest.mark.parametrize("end", [NOW, NOW - timedelta(seconds=1)])
def test_window_ending_at_or_before_its_start_is_refused(end: datetime) -> None:
    assert refused_field(window_of, NOW, end) == "window.end"


# radius()


def test_radius_zero_means_the_default() -> None:
    assert radius_of(0.0) == 25.0


@pytest.mark.parametrize("value", [0.5, 25.0, 500.0])
def test_radius_within_bounds_is_kept(value: float) -> None:
    assert radius_of(value) == value


@pytest.mark.parametrize("value", [-1.0, -0.0001, math.nan, math.inf, -math.inf, 500.0001])
def test_bad_radius_is_refused(value: float) -> None:
    assert refused_field(radius_of, value) == "radius_km"


# count()


@pytest.mark.parametrize(("value", "expected"), [(0, 20), (1, 1), (100, 100)])
def test_count_zero_means_the_default(value: int, expected: int) -> None:
    assert count(value, default=20, most=100, field="page_size") == expected


@pytest.mark.parametrize("value", [-1, 101])
def test_count_out_of_range_is_refused(value: int) -> None:
    assert refused_field(count, value, default=20, most=100, field="page_size") == "page_size"


# local_hours()


def test_local_hours_parse() -> None:
    assert hours_of("09:00", "17:30") == LocalHours(start_minute=540, end_minute=1050)


def test_local_hours_may_wrap_midnight() -> None:
    assert hours_of("22:00", "06:00") == LocalHours(start_minute=1320, end_minute=360)


def test_local_hours_may_end_at_24_00() -> None:
    assert hours_of("18:00", "24:00") == LocalHours(start_minute=1080, end_minute=1440)


@pytest.mark.parametrize(
    ("start", "end", "length"),
    [
        ("09:00", "17:30", 510),
        ("22:00", "06:00", 480),
        ("00:00", "24:00", 1440),
        ("24:00", "03:00", 180),
        ("21:00", "00:00", 180),
    ],
)
def test_local_hours_know_how_many_minutes_they_admit(start: str, end: str, length: int) -> None:
    hours = hours_of(start, end)
    assert hours is not None
    assert hours.length == length


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("9:00", "17:00", "local_hours.start"),
        ("25:00", "17:00", "local_hours.start"),
        ("", "17:00", "local_hours.start"),
        ("09:00", "17:60", "local_hours.end"),
        ("09:00", "5pm", "local_hours.end"),
        ("09:00", "09:00", "local_hours.end"),  # equal ends would admit nothing
        ("24:00", "00:00", "local_hours"),  # wraps midnight and admits nothing either
        ("0\u0668:00", "17:00", "local_hours.start"),  # an Arabic-Indic eight is not a digit here
        ("09:00", "\uff11\uff17:00", "local_hours.end"),  # nor are full-width digits
        ("09:00\n", "17:00", "local_hours.start"),
    ],
)
def test_bad_local_hours_are_refused(start: str, end: str, field: str) -> None:
    assert refused_field(hours_of, start, end) == field


# locate()


def test_locate_point_is_coarsened_before_its_zone_is_found(resolver: TimezoneResolver) -> None:
    found = located(resolver, lat=51.50740, lng=-0.12780)
    assert found.point == coarsen(Point(lat=51.5074, lng=-0.1278), cell_km=LIMITS.cell_km)
    assert found.point != Point(lat=51.5074, lng=-0.1278)
    assert found.zone == "Europe/London"


def test_locate_point_wraps_180(resolver: TimezoneResolver) -> None:
    found = located(resolver, lat=-17.2, lng=180.0)
    assert found.point is not None and -180.0 <= found.point.lng < -179.9
    assert found.zone == "Pacific/Fiji"


def test_locate_geohash_is_coarsened(resolver: TimezoneResolver) -> None:
    found = located(resolver, geohash="u4pruydqqvj")
    assert found.point == coarsen(
        decode_geohash("u4pruydqqvj", field="location.geohash"), cell_km=LIMITS.cell_km
    )
    assert found.zone == "Europe/Copenhagen"  # the tip of Jutland


def test_locate_country_has_a_zone_but_no_point(resolver: TimezoneResolver) -> None:
    found = located(resolver, country_code="NP")
    assert (found.point, found.zone) == (None, "Asia/Kathmandu")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "location"),
        ({"lat": 91.0, "lng": 0.0}, "location.point.lat"),
        ({"lat": 0.0, "lng": math.nan}, "location.point.lng"),
        ({"geohash": "abc"}, "location.geohash"),
        ({"country_code": "US"}, "location.country_code"),
        ({"country_code": "XX"}, "location.country_code"),
    ],
)
def test_bad_location_names_its_field(
    resolver: TimezoneResolver, kwargs: dict[str, object], field: str
) -> None:
    assert refused_field(located, resolver, **kwargs) == field


def test_coarser_cells_give_coarser_points(resolver: TimezoneResolver) -> None:
    coarse = located(resolver, limits=Limits(cell_km=25.0), lat=51.5074, lng=-0.1278)
    assert coarse.point == coarsen(Point(lat=51.5074, lng=-0.1278), cell_km=25.0)
