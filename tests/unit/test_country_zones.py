"""Countries by legal time: a country code stands for the zone most of its people keep."""

from __future__ import annotations

from collections import Counter
from zoneinfo import available_timezones

import pytest

from devtools.country_zones import CountryTime, country_times, legal_times
from matcher.errors import InvalidArgument, Reason
from matcher.geo.timezones import country_zone, country_zones

NINETY = 0.9


def test_every_row_names_a_real_zone_and_a_share():
    table = country_zones()
    assert len(table) > 240
    known = available_timezones()
    for row in table.values():
        assert row.zone == "" or row.zone in known, row
        assert 0.0 <= row.population_share <= 1.0, row
        assert row.zone or row.population_share == 0.0, row


@pytest.mark.parametrize(
    ("code", "zone"),
    [
        ("JP", "Asia/Tokyo"),  # one zone
        ("np", "Asia/Kathmandu"),  # any case
        ("AR", "America/Argentina/Buenos_Aires"),  # twelve zones, one legal time
        ("KZ", "Asia/Almaty"),  # one legal time since 2024
        ("BR", "America/Sao_Paulo"),  # most Brazilians keep Brasilia's time
        ("CN", "Asia/Shanghai"),  # Xinjiang's own zone holds few people
        ("ES", "Europe/Madrid"),  # the Canaries keep another
    ],
)
def test_a_country_most_of_whose_people_keep_one_time_resolves_to_it(code, zone):
    found = country_zone(code, min_share=NINETY, field="location.country_code")
    assert found.zone == zone
    assert found.country_code == code.upper()
    assert NINETY <= found.population_share <= 1.0


@pytest.mark.parametrize("code", ["US", "CA", "RU", "AU", "MX", "ID", "AQ"])
def test_a_country_split_between_legal_times_asks_for_a_finer_location(code):
    with pytest.raises(InvalidArgument) as caught:
        country_zone(code, min_share=NINETY, field="location.country_code")
    error = caught.value
    assert error.error_reason is Reason.LOCATION_TOO_COARSE
    assert error.error_metadata == {"country_code": code}
    assert [v.field for v in error.violations] == ["location.country_code"]
    assert "send a point or a geohash" in str(error)


def test_the_refusal_says_how_many_keep_the_most_populous_time():
    with pytest.raises(InvalidArgument) as caught:
        country_zone("US", min_share=NINETY, field="f")
    share = country_zones()["US"].population_share
    assert f"{share:.0%} of its people" in str(caught.value)


@pytest.mark.parametrize("code", ["ZZ", "USA", "", "J"])
def test_a_code_that_is_no_country_is_a_bad_field(code):
    with pytest.raises(InvalidArgument) as caught:
        country_zone(code, min_share=NINETY, field="f")
    assert caught.value.error_reason is Reason.FIELD_INVALID


def test_the_threshold_is_the_setting():
    indonesia = country_zones()["ID"].population_share
    assert country_zone("ID", min_share=indonesia, field="f").zone == "Asia/Jakarta"
    with pytest.raises(InvalidArgument):
        country_zone("BR", min_share=1.0, field="f")
    with pytest.raises(InvalidArgument):
        country_zone("AQ", min_share=0.0, field="f")  # no one counted, several times: never


# The generator (devtools/country_zones.py) on a few zones.


def test_zones_keeping_one_legal_time_are_grouped():
    groups = legal_times(
        [
            "America/Argentina/Cordoba",
            "America/Argentina/Buenos_Aires",
            "America/New_York",
            "America/Chicago",
            "Europe/Berlin",
            "Europe/Busingen",
        ]
    )
    assert sorted(groups) == [
        ["America/Argentina/Buenos_Aires", "America/Argentina/Cordoba"],
        ["America/Chicago"],
        ["America/New_York"],
        ["Europe/Berlin", "Europe/Busingen"],
    ]


def test_a_country_gets_its_most_populous_time_and_zone_and_their_share():
    people = {
        "XA": Counter({"America/New_York": 60, "America/Detroit": 31, "America/Chicago": 9}),
        "XB": Counter(),
    }
    zones = {"XB": ["Europe/Berlin", "Europe/Busingen"], "XC": ["Asia/Tokyo", "Asia/Shanghai"]}
    assert country_times(people, zones) == [
        CountryTime("XA", "America/New_York", 0.91, 3),
        CountryTime("XB", "Europe/Berlin", 1.0, 2),
        CountryTime("XC", "", 0.0, 2),
    ]
