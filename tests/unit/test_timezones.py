"""Point → zone with real timezonefinder boundaries, and a zone's state with real tzdata."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from matcher.errors import InvalidArgument
from matcher.geo.timezones import (
    TimezoneResolver,
    country_zone,
    known_zones,
    ocean_zone,
    state_at,
    zone,
    zone_or_invalid,
)
from matcher.model import Point
from tests.unit.locations import GOLDEN, Golden

golden = pytest.mark.parametrize("case", GOLDEN, ids=[g.place for g in GOLDEN])


@golden
def test_zone_at_golden_place(resolver: TimezoneResolver, case: Golden) -> None:
    assert resolver.zone_at(Point(lat=case.lat, lng=case.lng)) == case.zone


@golden
def test_state_at_golden_instant(case: Golden) -> None:
    state = state_at(case.zone, at=datetime.fromisoformat(case.instant))
    assert (state.zone, state.utc_offset_seconds, state.dst, state.abbreviation) == (
        case.zone,
        case.utc_offset_seconds,
        case.dst,
        case.abbreviation,
    )


def test_state_at_is_the_same_for_any_representation_of_the_instant() -> None:
    """The answer depends on the instant only, not on the zone the datetime is written in."""
    in_utc = datetime(2027, 3, 14, 7, 0, tzinfo=UTC)
    in_tokyo = in_utc.astimezone(zone("Asia/Tokyo"))
    assert state_at("America/New_York", at=in_utc) == state_at("America/New_York", at=in_tokyo)


@pytest.mark.parametrize(
    ("lng", "expected", "offset_hours"),
    [
        (0.0, "Etc/GMT", 0),
        (-30.0, "Etc/GMT+2", -2),
        (30.0, "Etc/GMT-2", 2),
        (-160.0, "Etc/GMT+11", -11),
        (179.0, "Etc/GMT-12", 12),
        (-180.0, "Etc/GMT+12", -12),
    ],
)
def test_ocean_zone_sign_is_posix_inverted(lng: float, expected: str, offset_hours: int) -> None:
    """Etc/GMT+2 is two hours *behind* UTC: the nautical zone of 30°W."""
    assert ocean_zone(lng=lng) == expected
    state = state_at(expected, at=datetime(2027, 1, 1, tzinfo=UTC))
    assert state.utc_offset_seconds == offset_hours * 3600


def test_ocean_zone_is_a_real_zone_at_every_longitude() -> None:
    for tenth in range(-1800, 1800):
        assert ocean_zone(lng=tenth / 10) in known_zones()


def test_ocean_zone_offset_is_within_half_an_hour_of_solar_time() -> None:
    """A nautical zone is the longitude's solar time rounded to the hour."""
    for lng in range(-180, 180):
        state = state_at(ocean_zone(lng=float(lng)), at=datetime(2027, 1, 1, tzinfo=UTC))
        assert abs(state.utc_offset_seconds - lng * 240) <= 1800


@pytest.mark.parametrize(
    ("code", "expected"),
    [("JP", "Asia/Tokyo"), ("NP", "Asia/Kathmandu"), ("IN", "Asia/Kolkata"), ("jp", "Asia/Tokyo")],
)
def test_country_zone_of_single_zone_country(code: str, expected: str) -> None:
    assert country_zone(code, min_share=0.9, field="location.country_code").zone == expected


@pytest.mark.parametrize("code", ["US", "AU", "CA", "RU"])
def test_country_zone_of_multi_zone_country_asks_for_a_finer_location(code: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        country_zone(code, min_share=0.9, field="location.country_code")
    (violation,) = raised.value.violations
    assert violation.field == "location.country_code"
    assert "point" in violation.description
    assert "geohash" in violation.description


@pytest.mark.parametrize("code", ["XX", "ZZ", "", "J", "JPN", "12", "  "])
def test_country_zone_of_unknown_code_raises(code: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        country_zone(code, min_share=0.9, field="location.country_code")
    assert [v.field for v in raised.value.violations] == ["location.country_code"]


def test_country_zone_names_the_field_it_was_given() -> None:
    with pytest.raises(InvalidArgument) as raised:
        country_zone("XX", min_share=0.9, field="where.country")
    assert [v.field for v in raised.value.violations] == ["where.country"]


def test_zone_or_invalid_returns_a_known_zone() -> None:
    assert zone_or_invalid("Pacific/Chatham", field="user_timezone").key == "Pacific/Chatham"


@pytest.mark.parametrize("name", ["Mars/Olympus", "EST5EDT6", "+05:45", "", "../etc/passwd"])
def test_zone_or_invalid_names_its_field(name: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        zone_or_invalid(name, field="user_timezone")
    assert [v.field for v in raised.value.violations] == ["user_timezone"]


def test_zone_refuses_unknown_name_with_key_error() -> None:
    with pytest.raises(KeyError):
        zone("Atlantis/Capital")


@pytest.mark.parametrize("name", ["localtime", "Factory", "posixrules"])
def test_files_that_name_no_place_are_not_zones(name: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        zone_or_invalid(name, field="timezone")
    assert raised.value.violations[0].field == "timezone"


def test_real_zones_and_their_old_names_still_are() -> None:
    for name in ("UTC", "Asia/Kathmandu", "US/Eastern", "GB"):
        assert zone_or_invalid(name, field="timezone").key == name
