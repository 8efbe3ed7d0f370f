"""An IP address as a location: placed, coarsened at once, weighed against the search radius."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from matcher.errors import (
    GeoipDatabaseError,
    GeoipNotConfigured,
    InvalidArgument,
    NotInDatabase,
    NotPublicAddress,
    Reason,
)
from matcher.geo.geoip import GeoipResolver
from matcher.geo.geometry import coarsen
from matcher.geo.timezones import TimezoneResolver, country_zones
from matcher.model import IpPlacement, Modality, Point, UserLocation, ZoneSource
from matcher.queries import LocationInput, locate, reachable
from matcher.settings import Limits
from tests.geoip_db import BUILD_EPOCH, replace_file, write_db

LIMITS = Limits()
LONDON = Point(lat=51.5074, lng=-0.1278)
KATHMANDU = Point(lat=27.7017, lng=85.3206)
KANSAS = Point(lat=37.751, lng=-97.822)  # where GeoLite2 puts an address known only in the US
CAPE_TOWN = Point(lat=-33.92, lng=18.42)
#: Each address of the tests with the ways a caller or a log could spell it.
ADDRESSES = {
    "81.2.69.1": ("81.2.69.1", "::ffff:81.2.69.1", "::ffff:5102:4501", "1359103233"),
    "2400:1a00::5": ("2400:1a00::5", "2400:1a00:0000:0000:0000:0000:0000:0005", "2400:1A00::5"),
    "192.168.1.1": ("192.168.1.1", "::ffff:192.168.1.1", "::ffff:c0a8:101"),
}


@pytest.fixture(scope="module")
def geoip(tmp_path_factory: pytest.TempPathFactory) -> GeoipResolver:
    return GeoipResolver(path=write_db(tmp_path_factory.mktemp("geoip") / "city.mmdb"))


def by_ip(
    address: str,
    geoip: GeoipResolver | None,
    resolver: TimezoneResolver,
    *,
    radius_km: float | None = None,
) -> UserLocation:
    return locate(
        LocationInput(ip_address=address),
        resolver=resolver,
        limits=LIMITS,
        field="location",
        geoip=geoip,
        radius_km=radius_km,
    )


@pytest.mark.parametrize(
    ("address", "where", "zone", "placed"),
    [
        ("81.2.69.1", LONDON, "Europe/London", IpPlacement(accuracy_km=10.0, country_code="GB")),
        (
            "::ffff:81.2.69.1",
            LONDON,
            "Europe/London",
            IpPlacement(accuracy_km=10.0, country_code="GB"),
        ),
        (
            "2400:1a00::5",
            KATHMANDU,
            "Asia/Kathmandu",
            IpPlacement(accuracy_km=20.0, country_code="NP"),
        ),
    ],
)
def test_a_city_within_the_radius_acts_as_a_point_snapped_to_the_grid(
    geoip: GeoipResolver,
    resolver: TimezoneResolver,
    address: str,
    where: Point,
    zone: str,
    placed: IpPlacement,
) -> None:
    found = by_ip(address, geoip, resolver)
    assert found == UserLocation(point=coarsen(where, cell_km=LIMITS.cell_km), zone=zone, ip=placed)
    assert found.point != where
    assert found.zone_source is ZoneSource.IP_CITY


def test_the_accuracy_is_weighed_against_the_search_radius(
    geoip: GeoipResolver, resolver: TimezoneResolver
) -> None:
    """London is placed within 10 km: a city for a 10 km radius, a country for a 9 km one."""
    assert by_ip("81.2.69.1", geoip, resolver, radius_km=10.0).zone_source is ZoneSource.IP_CITY
    coarse = by_ip("81.2.69.1", geoip, resolver, radius_km=9.0)
    assert coarse == UserLocation(
        point=None,
        zone="Europe/London",
        country=country_zones()["GB"],
        ip=IpPlacement(accuracy_km=10.0, country_code="GB"),
    )
    assert coarse.zone_source is ZoneSource.IP_COUNTRY


def test_without_a_radius_the_default_radius_decides(
    geoip: GeoipResolver, resolver: TimezoneResolver
) -> None:
    """DB-IP states no accuracy: the assumed 50 km is more than the default 25 km radius."""
    assert LIMITS.default_radius_km < 50.0
    found = by_ip("5.44.1.1", geoip, resolver)
    assert found.point is None and found.ip == IpPlacement(accuracy_km=50.0, country_code="DE")
    assert found.zone_source is ZoneSource.IP_COUNTRY
    wider = by_ip("5.44.1.1", geoip, resolver, radius_km=50.0)
    assert wider.zone_source is ZoneSource.IP_CITY


def test_a_country_with_one_legal_time_gives_that_zone(
    geoip: GeoipResolver, resolver: TimezoneResolver
) -> None:
    found = by_ip("126.1.2.3", geoip, resolver)
    assert found == UserLocation(
        point=None,
        zone="Asia/Tokyo",
        country=country_zones()["JP"],
        ip=IpPlacement(accuracy_km=None, country_code="JP"),
    )
    assert found.zone_source is ZoneSource.IP_COUNTRY


def test_a_wide_place_in_a_country_of_many_legal_times_takes_the_zone_at_its_point(
    geoip: GeoipResolver, resolver: TimezoneResolver
) -> None:
    """No US legal time holds 90% of its people; the 1,000 km place is in Kansas: Chicago's."""
    found = by_ip("23.40.0.1", geoip, resolver, radius_km=500.0)
    assert found == UserLocation(
        point=None,
        zone=resolver.zone_at(coarsen(KANSAS, cell_km=LIMITS.cell_km)),
        ip=IpPlacement(accuracy_km=1000.0, country_code="US"),
    )
    assert found.zone == "America/Chicago"
    assert found.zone_source is ZoneSource.IP_AREA


def test_a_wide_place_without_a_country_takes_the_zone_at_its_point(
    geoip: GeoipResolver, resolver: TimezoneResolver
) -> None:
    found = by_ip("41.0.3.4", geoip, resolver)
    assert found == UserLocation(
        point=None,
        zone="Africa/Johannesburg",
        ip=IpPlacement(accuracy_km=300.0, country_code=None),
    )
    assert found.zone_source is ZoneSource.IP_AREA


def test_only_a_country_of_many_zones_asks_for_a_finer_location(
    geoip: GeoipResolver, resolver: TimezoneResolver
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        by_ip("12.1.2.3", geoip, resolver)
    [violation] = refused.value.violations
    assert violation.field == "location.ip_address"
    assert "only to the country US" in violation.description
    assert "send a point or a geohash" in violation.description
    assert refused.value.error_reason is Reason.LOCATION_TOO_COARSE
    assert refused.value.error_metadata == {"country_code": "US"}


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("192.168.1.1", "is not a public address (private)"),
        ("::ffff:127.0.0.1", "is not a public address (loopback)"),
        ("fe80::1", "is not a public address (link-local)"),
        ("224.0.0.1", "is not a public address (multicast)"),
        ("240.0.0.1", "is not a public address (reserved)"),
        ("100.64.0.1", "is not a public address (shared)"),
        ("81.2.69", "is not an IPv4 or IPv6 address"),
        ("", "is empty"),
        ("fe80::1%eth0", "has a zone index"),
    ],
)
def test_a_bad_or_private_address_is_invalid_naming_the_field(
    geoip: GeoipResolver, resolver: TimezoneResolver, address: str, says: str
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        by_ip(address, geoip, resolver)
    [violation] = refused.value.violations
    assert violation.field == "location.ip_address"
    assert says in violation.description
    assert not address or address not in str(refused.value)
    malformed = "not a public address" not in says
    assert refused.value.error_reason is (
        Reason.FIELD_INVALID if malformed else Reason.IP_ADDRESS_NOT_PUBLIC
    )


def test_an_address_the_database_does_not_place(
    geoip: GeoipResolver, resolver: TimezoneResolver
) -> None:
    with pytest.raises(NotInDatabase):
        by_ip("8.8.8.8", geoip, resolver)


def test_without_a_database_the_error_says_how_to_configure_one(
    resolver: TimezoneResolver,
) -> None:
    with pytest.raises(GeoipNotConfigured) as refused:
        by_ip("81.2.69.1", None, resolver)
    assert "--geoip-db PATH or MATCHER_GEOIP_DB=PATH" in str(refused.value)


@pytest.mark.parametrize("address", ["not an address", "10.0.0.1"])
def test_a_bad_address_is_refused_before_asking_for_a_database(
    resolver: TimezoneResolver, address: str
) -> None:
    """The caller's own mistake comes first: no database would ever place it."""
    with pytest.raises(InvalidArgument):
        by_ip(address, None, resolver)


@pytest.mark.parametrize("address", list(ADDRESSES))
def test_the_address_is_in_no_repr_and_no_error(
    geoip: GeoipResolver, resolver: TimezoneResolver, address: str
) -> None:
    where = LocationInput(ip_address=address)
    assert "ip_address" not in repr(where)
    try:
        found: object = by_ip(address, geoip, resolver)
    except InvalidArgument as exc:
        found = exc
    shown = f"{found!r} {found}"
    if isinstance(found, BaseException):
        shown += f" {found.args!r} {found.__context__!r} {found.__cause__!r}"
    assert not any(spelling in shown for spelling in ADDRESSES[address])


def test_a_coarse_address_locates_remote_care_only(
    geoip: GeoipResolver, resolver: TimezoneResolver
) -> None:
    wide = by_ip("23.40.0.1", geoip, resolver)
    reachable(wide, frozenset(Modality), field="location")
    with pytest.raises(InvalidArgument) as refused:
        reachable(wide, frozenset({Modality.IN_PERSON}), field="location")
    assert refused.value.error_reason is Reason.LOCATION_TOO_COARSE
    assert refused.value.violations[0].description == (
        "an IP address placed only within 1000 km, more than the radius, locates only REMOTE "
        "care; send a point or a geohash"
    )
    japan = by_ip("126.1.2.3", geoip, resolver)
    with pytest.raises(InvalidArgument, match="placed only in a country locates only REMOTE"):
        reachable(japan, frozenset({Modality.HOME_VISIT}), field="location")


@pytest.mark.parametrize(
    ("where", "source"),
    [
        (LocationInput(lat_lng=(51.5, -0.12)), ZoneSource.POINT),
        (LocationInput(geohash="gcpvj0"), ZoneSource.POINT),
        (LocationInput(country_code="np"), ZoneSource.COUNTRY),
    ],
)
def test_every_location_says_where_its_zone_came_from(
    resolver: TimezoneResolver, where: LocationInput, source: ZoneSource
) -> None:
    found = locate(where, resolver=resolver, limits=LIMITS, field="location")
    assert (found.zone_source, found.ip) == (source, None)


def test_a_missing_location_names_every_choice(resolver: TimezoneResolver) -> None:
    with pytest.raises(InvalidArgument, match="a country_code or an ip_address"):
        locate(LocationInput(), resolver=resolver, limits=LIMITS, field="location")


def test_opens_and_lookups_are_counted_in_the_metrics(tmp_path: Path) -> None:
    """Counts of what the database gave, never of which address: no label holds one."""

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    lookups = "matcher_geoip_lookups_total"
    before = {found: sample(lookups, found=found) for found in ("city", "country", "none")}
    loaded, refused = (
        sample("matcher_geoip_loads_total", outcome=outcome) for outcome in ("loaded", "refused")
    )
    path = write_db(tmp_path / "city.mmdb", build_epoch=BUILD_EPOCH + 60)
    geoip = GeoipResolver(path=path)
    assert sample("matcher_geoip_loads_total", outcome="loaded") == loaded + 1
    assert sample("matcher_geoip_built_timestamp_seconds") == BUILD_EPOCH + 60
    assert sample("matcher_geoip_age_seconds") > 0
    for address in ("81.2.69.1", "2400:1a00::5", "126.1.2.3", "8.8.8.8", "10.0.0.1"):
        with contextlib.suppress(NotInDatabase, NotPublicAddress):
            geoip.locate(address=address)
    after = {found: sample(lookups, found=found) for found in before}
    assert after == {
        "city": before["city"] + 2,
        "country": before["country"] + 1,
        "none": before["none"] + 1,  # the private address never reached the database
    }
    replace_file(path, b"not a database")
    with pytest.raises(GeoipDatabaseError):
        geoip.reload()
    assert sample("matcher_geoip_loads_total", outcome="refused") == refused + 1
