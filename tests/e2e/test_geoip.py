"""IP address locations as operators and clients meet them: matcher-server with --geoip-db, grpcurl.

The database is the suite's own (tests/geoip_db.py), written fresh for each run.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    ROOT,
    SERVER,
    TINY_FEED,
    RunningServer,
    call,
    call_error,
    field_violations,
    grpcurl,
    serving,
    wait_until,
)
from tests.feed_files import tagged, write_feed
from tests.geoip_db import BERLIN_AT_LONDON, replace_file, write_db

pytestmark = pytest.mark.e2e

ADMIN = "matcher.v1.FeedAdminService"
INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION = 3, 5, 9
LONDON_IP = "81.2.69.160"
WIDE_US_IP = "23.40.0.1"


def located(address: str, ip: str, method: str = "Match", **fields: Any) -> dict[str, Any]:
    """A call locating the user by an IP address, which must succeed."""
    return call(address, method, {"location": {"ip_address": ip}, **fields}, "-emit-defaults")


def error_reasons(status: dict[str, Any]) -> list[str]:
    """The google.rpc.ErrorInfo reasons of a status as grpcurl prints it."""
    return [
        d["reason"]
        for d in status.get("details", [])
        if d.get("@type") == "type.googleapis.com/google.rpc.ErrorInfo"
    ]


@pytest.fixture(scope="module")
def geo_address(geoip_db: Path) -> Iterator[str]:
    """matcher-server over the tiny feed, placing addresses with the suite's test database."""
    with serving(TINY_FEED, "--geoip-db", str(geoip_db)) as server:
        yield server.address


def test_an_ip_in_a_known_city_gets_its_zone_and_nearby_suppliers(geo_address: str) -> None:
    response = located(geo_address, LONDON_IP)
    assert response["user_timezone"]["zone"] == "Europe/London"
    assert response["zone_origin"] == {
        "source": "ZONE_SOURCE_IP_CITY",
        "country_code": "GB",
        "population_share": 0,
        "accuracy_km": 10,
    }
    assert abs(response["coarse_location"]["lat"] - 51.5074) < 0.01
    nearby = {m["supplier"]["id"]: m["matched_modalities"] for m in response["matches"]}
    assert "MODALITY_IN_PERSON" in nearby["london-gp"]


def test_an_ip_with_a_1000_km_accuracy_acts_like_a_country(geo_address: str) -> None:
    response = located(geo_address, WIDE_US_IP, radius_km=500)
    assert response.get("coarse_location") is None  # unset: -emit-defaults prints null
    assert response["user_timezone"]["zone"] == "America/Chicago"
    assert response["zone_origin"] == {
        "source": "ZONE_SOURCE_IP_AREA",
        "country_code": "US",
        "population_share": 0,
        "accuracy_km": 1000,
    }
    assert response["matches"]
    assert all(m["matched_modalities"] == ["MODALITY_REMOTE"] for m in response["matches"])


def test_resolve_timezone_by_an_ipv6_address(geo_address: str) -> None:
    response = located(geo_address, "2400:1a00::5", "ResolveTimezone")
    assert response["timezone"]["zone"] == "Asia/Kathmandu"
    assert response["zone_origin"]["source"] == "ZONE_SOURCE_IP_CITY"


@pytest.mark.parametrize("ip", ["192.168.1.1", "::ffff:10.0.0.1", "127.0.0.1", "81.2.69"])
def test_a_private_or_malformed_address_is_refused(geo_address: str, ip: str) -> None:
    done = grpcurl(
        geo_address, "matcher.v1.MatcherService/Match", data={"location": {"ip_address": ip}}
    )
    status = json.loads(done.stderr)
    assert done.returncode == 64 + INVALID_ARGUMENT, done.stderr
    assert field_violations(status) == ["location.ip_address"]
    assert ip not in done.stderr + done.stdout


def test_a_private_address_is_named_not_public(geo_address: str) -> None:
    status = call_error(geo_address, "Match", {"location": {"ip_address": "192.168.1.1"}})
    assert "location.ip_address: is not a public address (private)" in status["message"]
    assert error_reasons(status) == ["IP_ADDRESS_NOT_PUBLIC"]


def test_an_address_the_database_does_not_place_is_not_found(geo_address: str) -> None:
    status = call_error(geo_address, "ResolveTimezone", {"location": {"ip_address": "8.8.8.8"}})
    assert status["code"] == NOT_FOUND
    assert error_reasons(status) == ["IP_ADDRESS_NOT_LOCATED"]
    assert "8.8.8.8" not in json.dumps(status)


def test_without_a_database_an_ip_is_a_failed_precondition_saying_how(address: str) -> None:
    status = call_error(address, "Match", {"location": {"ip_address": LONDON_IP}})
    assert status["code"] == FAILED_PRECONDITION
    assert "--geoip-db PATH or MATCHER_GEOIP_DB=PATH" in status["message"]
    assert error_reasons(status) == ["GEOIP_NOT_CONFIGURED"]
    assert LONDON_IP not in json.dumps(status)


@pytest.mark.parametrize("content", [None, b"not a MaxMind DB"])
def test_a_database_that_fails_to_open_stops_start_up(
    tmp_path: Path, content: bytes | None
) -> None:
    db = tmp_path / "city.mmdb"
    if content is not None:
        db.write_bytes(content)
    done = subprocess.run(
        [*SERVER, "--address", "127.0.0.1:0", "--feed", str(TINY_FEED), "--geoip-db", str(db)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert f"matcher: cannot start: GeoIP database {db}:" in done.stderr


# --- reloads: SIGHUP and FeedAdminService, the feed and the database independent ------------


@pytest.fixture
def reloadable(tmp_path: Path) -> Iterator[RunningServer]:
    """A server over a feed file and a database file the test replaces."""
    feed = write_feed(tmp_path / "feed.jsonl", tagged("v1"))
    db = write_db(tmp_path / "city.mmdb")
    with serving(feed, "--geoip-db", str(db)) as server:
        yield server


def zone_of_london_ip(address: str) -> str:
    return str(located(address, LONDON_IP, "ResolveTimezone")["timezone"]["zone"])


def feed_generated_at(address: str) -> str:
    done = grpcurl(address, f"{ADMIN}/GetFeedStatus")
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["serving"]["generated_at"])


def test_grpcurl_reloads_the_database_and_the_status_shows_it(
    reloadable: RunningServer, tmp_path: Path
) -> None:
    db = tmp_path / "city.mmdb"
    replace_file(db, write_db(tmp_path / "berlin.mmdb", blocks=(BERLIN_AT_LONDON,)).read_bytes())
    assert zone_of_london_ip(reloadable.address) == "Europe/London"  # until reloaded
    done = grpcurl(reloadable.address, f"{ADMIN}/ReloadGeoipDatabase")
    assert done.returncode == 0, done.stderr
    serving_now = json.loads(done.stdout)["serving"]
    assert serving_now["path"] == str(db) and serving_now["database_type"] == "Matcher-Test-City"
    assert zone_of_london_ip(reloadable.address) == "Europe/Berlin"
    status = json.loads(grpcurl(reloadable.address, f"{ADMIN}/GetFeedStatus").stdout)
    assert status["geoip_database"]["path"] == str(db)


def test_sighup_reloads_the_database_though_the_feed_is_refused(
    reloadable: RunningServer, tmp_path: Path
) -> None:
    broken = tagged("v2")
    broken[3]["location"]["lat"] = 200
    write_feed(reloadable.feed, broken)
    replace_file(
        tmp_path / "city.mmdb",
        write_db(tmp_path / "b.mmdb", blocks=(BERLIN_AT_LONDON,)).read_bytes(),
    )
    reloadable.process.send_signal(signal.SIGHUP)
    wait_until(
        lambda: zone_of_london_ip(reloadable.address) == "Europe/Berlin", what="GeoIP reload"
    )
    wait_until(lambda: "reload refused" in reloadable.stderr_text(), what="the feed's refusal")


def test_sighup_reloads_the_feed_though_the_database_is_refused(
    reloadable: RunningServer, tmp_path: Path
) -> None:
    write_feed(reloadable.feed, tagged("v2", generated_at="2026-11-23T00:00:00Z"))
    replace_file(tmp_path / "city.mmdb", b"truncated")
    reloadable.process.send_signal(signal.SIGHUP)
    wait_until(
        lambda: feed_generated_at(reloadable.address) == "2026-11-23T00:00:00Z", what="feed reload"
    )
    wait_until(
        lambda: "GeoIP reload refused" in reloadable.stderr_text(), what="the database's refusal"
    )
    assert zone_of_london_ip(reloadable.address) == "Europe/London"  # the database before
