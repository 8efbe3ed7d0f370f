"""IP address locations over a real gRPC server with a GeoIP database the tests write."""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
import maxminddb
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from matcher.geo.geoip import GeoipResolver
from matcher.geo.timezones import TimezoneResolver
from matcher.service import Administration
from matcher.settings import Limits
from matcher_api.app import create_server
from matcher_api.v1 import feed_admin_pb2 as admin_pb
from matcher_api.v1 import feed_admin_pb2_grpc as admin_grpc
from matcher_api.v1 import matcher_pb2 as pb
from matcher_api.v1 import matcher_pb2_grpc as pb_grpc
from tests.conftest import NOW, TINY_FEED, matching_over
from tests.geoip_db import (
    BERLIN_AT_LONDON,
    BUILD_EPOCH,
    LONDON,
    TEST_TYPE,
    replace_file,
    write_db,
)
from tests.integration.helpers import bad_fields
from tests.replicas import sqlite_replica

LONDON_IP = "81.2.69.1"
WIDE_US_IP = "23.40.0.1"
#: Every address the tests send, with the spellings no answer may hold.
SPELLINGS = {
    LONDON_IP: (LONDON_IP, "::ffff:81.2.69.1", "::ffff:5102:4501"),
    "8.8.8.8": ("8.8.8.8", "::ffff:808:808"),
    "10.1.2.3": ("10.1.2.3",),
    "2400:1a00::5": ("2400:1a00::5", "2400:1a00:0:0:0:0:0:5"),
}


@dataclass
class Served:
    """Stubs of a server with GeoIP (or without), and the database file it reads."""

    matcher: pb_grpc.MatcherServiceStub
    admin: admin_grpc.FeedAdminServiceStub
    db: Path | None


@contextmanager
def serving(resolver: TimezoneResolver, db: Path | None) -> Iterator[Served]:
    """A server over the tiny feed, with FeedAdminService, placing addresses with ``db``."""
    geoip = GeoipResolver(path=db) if db is not None else None
    with tempfile.TemporaryDirectory() as store, sqlite_replica(TINY_FEED, Path(store)) as replica:
        server, port = create_server(
            "127.0.0.1:0",
            matching=matching_over(replica.current, resolver, geoip),
            administration=Administration(
                replica=replica, limits=Limits(), clock=lambda: NOW, geoip=geoip
            ),
        )
        server.start()
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                yield Served(
                    pb_grpc.MatcherServiceStub(channel),
                    admin_grpc.FeedAdminServiceStub(channel),
                    db,
                )
        finally:
            server.stop(grace=None)


@pytest.fixture
def served(tmp_path: Path, resolver: TimezoneResolver) -> Iterator[Served]:
    with serving(resolver, write_db(tmp_path / "city.mmdb")) as s:
        yield s


@pytest.fixture(scope="module")
def unconfigured(resolver: TimezoneResolver) -> Iterator[Served]:
    with serving(resolver, None) as s:
        yield s


def ip(address: str) -> pb.Location:
    return pb.Location(ip_address=address)


def failure(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, timeout=10)
    return caught.value


def details(error: grpc.RpcError) -> dict[str, object]:
    """The status's details by type: ErrorInfo, BadRequest."""
    status = rpc_status.from_call(error)
    assert status is not None
    found: dict[str, object] = {}
    for packed in status.details:
        for kind in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.BadRequest,
        ):
            if packed.Is(kind.DESCRIPTOR):
                message = kind()
                packed.Unpack(message)
                found[kind.__name__] = message
    return found


def assert_unquoted(error: grpc.RpcError, address: str) -> None:
    status = rpc_status.from_call(error)
    shown = f"{error.details()} {status}"
    assert not any(spelling in shown for spelling in SPELLINGS[address])


def test_an_address_in_a_known_city_gets_its_zone_and_nearby_suppliers(served: Served) -> None:
    response = served.matcher.Match(pb.MatchRequest(location=ip(LONDON_IP)), timeout=10)
    assert response.user_timezone.zone == "Europe/London"
    assert response.HasField("coarse_location")
    assert abs(response.coarse_location.lat - 51.5074) < 0.01
    assert response.zone_origin == pb.ZoneOrigin(
        source=pb.ZONE_SOURCE_IP_CITY, accuracy_km=10.0, country_code="GB"
    )
    nearby = {m.supplier.id: list(m.matched_modalities) for m in response.matches}
    assert pb.MODALITY_IN_PERSON in nearby["london-gp"]


def test_an_address_placed_within_1000_km_acts_as_a_country(served: Served) -> None:
    response = served.matcher.Match(
        pb.MatchRequest(location=ip(WIDE_US_IP), radius_km=500), timeout=10
    )
    assert not response.HasField("coarse_location")
    assert response.user_timezone.zone == "America/Chicago"
    assert response.zone_origin == pb.ZoneOrigin(
        source=pb.ZONE_SOURCE_IP_AREA, accuracy_km=1000.0, country_code="US"
    )
    assert response.matches
    assert all(list(m.matched_modalities) == [pb.MODALITY_REMOTE] for m in response.matches)
    refused = failure(
        served.matcher.Match,
        pb.MatchRequest(location=ip(WIDE_US_IP), modalities=[pb.MODALITY_IN_PERSON]),
    )
    assert bad_fields(refused) == ["location"]
    assert "within 1000 km" in (refused.details() or "")
    assert details(refused)["ErrorInfo"].reason == "LOCATION_TOO_COARSE"


def test_the_match_radius_decides_city_or_country(served: Served) -> None:
    """London is placed within 10 km: a 5 km search treats it as the country."""
    narrow = served.matcher.Match(pb.MatchRequest(location=ip(LONDON_IP), radius_km=5), timeout=10)
    assert narrow.zone_origin.source == pb.ZONE_SOURCE_IP_COUNTRY
    assert (narrow.zone_origin.country_code, narrow.zone_origin.accuracy_km) == ("GB", 10.0)
    assert 0.9 <= narrow.zone_origin.population_share <= 1.0
    assert not narrow.HasField("coarse_location")


def test_resolve_timezone_and_list_slots_say_how_the_user_was_placed(served: Served) -> None:
    resolved = served.matcher.ResolveTimezone(
        pb.ResolveTimezoneRequest(location=ip("2400:1a00::5")), timeout=10
    )
    assert resolved.timezone.zone == "Asia/Kathmandu"
    assert resolved.zone_origin.source == pb.ZONE_SOURCE_IP_CITY
    listed = served.matcher.ListSlots(
        pb.ListSlotsRequest(supplier_id="kathmandu-derm", location=ip("126.1.2.3")), timeout=10
    )
    assert listed.user_timezone.zone == "Asia/Tokyo"
    assert listed.zone_origin.source == pb.ZONE_SOURCE_IP_COUNTRY
    assert (listed.zone_origin.country_code, listed.zone_origin.accuracy_km) == ("JP", 0.0)
    by_zone = served.matcher.ListSlots(
        pb.ListSlotsRequest(supplier_id="kathmandu-derm", timezone="Asia/Tokyo"), timeout=10
    )
    assert by_zone.zone_origin == pb.ZoneOrigin(source=pb.ZONE_SOURCE_TIMEZONE)


@pytest.mark.parametrize("address", ["10.1.2.3", "::ffff:10.1.2.3", "fe80::1", "81.2.69.256"])
def test_a_private_or_malformed_address_is_invalid_naming_the_field(
    served: Served, address: str
) -> None:
    refused = failure(served.matcher.Match, pb.MatchRequest(location=ip(address)))
    assert bad_fields(refused) == ["location.ip_address"]
    malformed = address == "81.2.69.256"
    assert details(refused)["ErrorInfo"].reason == (
        "FIELD_INVALID" if malformed else "IP_ADDRESS_NOT_PUBLIC"
    )
    assert address not in f"{refused.details()} {rpc_status.from_call(refused)}"


def test_an_address_the_database_does_not_place_is_not_found(served: Served) -> None:
    refused = failure(
        served.matcher.ResolveTimezone, pb.ResolveTimezoneRequest(location=ip("8.8.8.8"))
    )
    assert refused.code() is grpc.StatusCode.NOT_FOUND
    info = details(refused)["ErrorInfo"]
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert (info.reason, info.domain) == ("IP_ADDRESS_NOT_LOCATED", "matcher.v1")
    assert "send a point, a geohash or a country_code" in (refused.details() or "")
    assert_unquoted(refused, "8.8.8.8")


def test_without_a_database_an_address_is_a_failed_precondition(unconfigured: Served) -> None:
    refused = failure(unconfigured.matcher.Match, pb.MatchRequest(location=ip(LONDON_IP)))
    assert refused.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "--geoip-db PATH or MATCHER_GEOIP_DB=PATH" in (refused.details() or "")
    assert details(refused)["ErrorInfo"].reason == "GEOIP_NOT_CONFIGURED"
    assert_unquoted(refused, LONDON_IP)


def test_a_failed_lookup_is_internal_and_logs_the_file_not_the_address(
    tmp_path: Path, resolver: TimezoneResolver, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_db(tmp_path / "city.mmdb", blocks=(LONDON,))
    with maxminddb.open_database(str(path)) as reader:
        meta = reader.metadata()
    content = bytearray(path.read_bytes())
    data_start = meta.node_count * meta.record_size * 2 // 8 + 16
    data_end = content.rfind(b"\xab\xcd\xefMaxMind.com")
    content[data_start:data_end] = b"\xff" * (data_end - data_start)
    path.write_bytes(content)
    with serving(resolver, path) as broken, caplog.at_level(logging.DEBUG):
        refused = failure(broken.matcher.Match, pb.MatchRequest(location=ip(LONDON_IP)))
    assert (refused.code(), refused.details()) == (grpc.StatusCode.INTERNAL, "internal error")
    logged = [r.getMessage() for r in caplog.records]
    assert any(str(path) in m and "the file is corrupt" in m for m in logged)
    assert not any(s in m for m in logged for s in SPELLINGS[LONDON_IP])


def test_reload_swaps_the_database_and_the_status_shows_it(tmp_path: Path, served: Served) -> None:
    assert served.db is not None
    status = served.admin.GetFeedStatus(admin_pb.GetFeedStatusRequest(), timeout=10)
    built = datetime.fromtimestamp(BUILD_EPOCH, UTC)
    assert status.geoip_database == admin_pb.GeoipDatabase(
        path=str(served.db),
        database_type=TEST_TYPE,
        ip_version=6,
        built_at=status.geoip_database.built_at,
    )
    assert status.geoip_database.built_at.ToDatetime(tzinfo=UTC) == built
    newer = write_db(
        tmp_path / "newer.mmdb", blocks=(BERLIN_AT_LONDON,), build_epoch=BUILD_EPOCH + 7
    )
    replace_file(served.db, newer.read_bytes())
    before = served.matcher.ResolveTimezone(pb.ResolveTimezoneRequest(location=ip(LONDON_IP)))
    assert before.timezone.zone == "Europe/London"  # the open file serves until a reload
    reloaded = served.admin.ReloadGeoipDatabase(admin_pb.ReloadGeoipDatabaseRequest(), timeout=10)
    assert reloaded.serving.built_at.seconds == BUILD_EPOCH + 7
    after = served.matcher.ResolveTimezone(pb.ResolveTimezoneRequest(location=ip(LONDON_IP)))
    assert after.timezone.zone == "Europe/Berlin"


def test_a_bad_file_is_refused_and_the_database_before_serves_on(served: Served) -> None:
    assert served.db is not None
    replace_file(served.db, b"not a database")
    refused = failure(served.admin.ReloadGeoipDatabase, admin_pb.ReloadGeoipDatabaseRequest())
    assert refused.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "is not a MaxMind DB file" in (refused.details() or "")
    info = details(refused)["ErrorInfo"]
    assert (info.reason, dict(info.metadata)) == (
        "GEOIP_DATABASE_REFUSED",
        {"path": str(served.db)},
    )
    still = served.matcher.ResolveTimezone(pb.ResolveTimezoneRequest(location=ip(LONDON_IP)))
    assert still.timezone.zone == "Europe/London"


def test_without_a_database_reload_and_status_say_so(unconfigured: Served) -> None:
    refused = failure(unconfigured.admin.ReloadGeoipDatabase, admin_pb.ReloadGeoipDatabaseRequest())
    assert refused.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert details(refused)["ErrorInfo"].reason == "GEOIP_NOT_CONFIGURED"
    status = unconfigured.admin.GetFeedStatus(admin_pb.GetFeedStatusRequest(), timeout=10)
    assert not status.HasField("geoip_database")


def test_reloads_under_concurrent_calls_each_see_one_whole_database(
    tmp_path: Path, served: Served
) -> None:
    assert served.db is not None
    london = write_db(tmp_path / "london.mmdb")
    berlin = write_db(tmp_path / "berlin.mmdb", blocks=(BERLIN_AT_LONDON,))
    done = threading.Event()

    def call() -> set[str]:
        seen = set()
        while not done.is_set():
            answer = served.matcher.ResolveTimezone(
                pb.ResolveTimezoneRequest(location=ip(LONDON_IP)), timeout=10
            )
            seen.add(answer.timezone.zone)
        return seen

    with ThreadPoolExecutor(max_workers=3) as pool:
        callers = [pool.submit(call) for _ in range(3)]
        for turn in range(20):
            replace_file(served.db, (berlin if turn % 2 == 0 else london).read_bytes())
            served.admin.ReloadGeoipDatabase(admin_pb.ReloadGeoipDatabaseRequest(), timeout=10)
        done.set()
        seen = set().union(*(f.result() for f in callers))
    assert seen <= {"Europe/London", "Europe/Berlin"}
