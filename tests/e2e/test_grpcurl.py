"""The service as an operator meets it: matcher-server in its own process, called with grpcurl.

The server runs on the real clock, so every window here is computed relative to now.
grpcurl prints messages as JSON with the proto's own (snake_case) field names.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from matcher_api.v1 import feed_admin_pb2, matcher_pb2
from tests.e2e.conftest import (
    SERVER,
    SERVICE,
    TINY_FEED,
    call,
    call_error,
    field_violations,
    grpcurl,
    launch,
    wait_until_serving,
)

pytestmark = pytest.mark.e2e

INVALID_ARGUMENT, NOT_FOUND, UNKNOWN, INTERNAL = 3, 5, 2, 13
KATHMANDU = {"lat": 27.7172, "lng": 85.324}
LOS_ANGELES = {"lat": 34.05, "lng": -118.25}


def rfc3339(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def next_week() -> dict[str, str]:
    """Next Monday 00:00Z to the Monday after: always in the future, always a full week."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today + timedelta(days=7 - today.weekday())
    return {"start": rfc3339(monday), "end": rfc3339(monday + timedelta(days=7))}


def match_near_la(address: str, window: dict[str, str]) -> dict[str, Any]:
    request = {"location": {"point": LOS_ANGELES}, "window": window}
    return call(address, "Match", request, "-emit-defaults")


# --- reflection and health -------------------------------------------------------------


def test_list_shows_every_service(address: str) -> None:
    done = grpcurl(address, "list")
    assert done.returncode == 0, done.stderr
    services = done.stdout.split()
    assert SERVICE in services
    assert "grpc.health.v1.Health" in services
    assert "grpc.reflection.v1.ServerReflection" in services
    assert "grpc.reflection.v1alpha.ServerReflection" in services
    assert "matcher.v1.FeedAdminService" in services


def test_describe_service_shows_the_five_rpcs(address: str) -> None:
    done = grpcurl(address, "describe", SERVICE)
    assert done.returncode == 0, done.stderr
    for rpc in ("ResolveTimezone", "Match", "GetSupplier", "ListSlots", "CheckSlots"):
        assert f"rpc {rpc} (" in done.stdout, done.stdout


#: Every method the server offers, from the compiled descriptors: describe must resolve each.
METHODS = [
    m.full_name
    for f in (matcher_pb2.DESCRIPTOR, feed_admin_pb2.DESCRIPTOR)
    for s in f.services_by_name.values()
    for m in s.methods
]


@pytest.mark.parametrize("method", METHODS)
def test_describe_resolves_every_method_with_its_comment(address: str, method: str) -> None:
    done = grpcurl(address, "describe", method)
    assert done.returncode == 0, done.stderr
    name = method.rsplit(".", 1)[-1]
    assert f"{method} is a method:" in done.stdout, done.stdout
    assert f"rpc {name} (" in done.stdout, done.stdout
    assert "\n// " in "\n" + done.stdout, f"no comment shown: {done.stdout}"


@pytest.mark.parametrize(
    ("symbol", "kind", "shown"),
    [
        ("matcher.v1.Slot", "a message", "Positive: the supplier's clock is ahead."),
        ("matcher.v1.Modality", "an enum", "MODALITY_IN_PERSON = 1;"),
        ("matcher.v1.FeedAdminService", "a service", "rpc UpdateAvailability ("),
        ("grpc.reflection.v1.ServerReflection", "a service", "rpc ServerReflectionInfo ("),
        ("grpc.health.v1.Health.Check", "a method", "rpc Check ("),
    ],
)
def test_describe_resolves_messages_enums_and_services(
    address: str, symbol: str, kind: str, shown: str
) -> None:
    done = grpcurl(address, "describe", symbol)
    assert done.returncode == 0, done.stderr
    assert f"{symbol} is {kind}:" in done.stdout, done.stdout
    assert shown in done.stdout, done.stdout


def test_describe_match_request_shows_its_fields(address: str) -> None:
    done = grpcurl(address, "describe", "matcher.v1.MatchRequest")
    assert done.returncode == 0, done.stderr
    for name in (
        "location",
        "radius_km",
        "specialties",
        "languages",
        "modalities",
        "window",
        "local_hours",
        "page_size",
        "page_token",
        "max_slots_per_supplier",
        "order",
    ):
        assert f" {name} = " in done.stdout, (name, done.stdout)


def test_health_check_is_serving(address: str) -> None:
    done = grpcurl(address, "grpc.health.v1.Health/Check")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"status": "SERVING"}


# --- ResolveTimezone --------------------------------------------------------------------


def test_resolve_timezone_of_a_point_in_kathmandu(address: str) -> None:
    got = call(address, "ResolveTimezone", {"location": {"point": KATHMANDU}})
    assert got["timezone"]["zone"] == "Asia/Kathmandu"
    assert got["timezone"]["utc_offset_seconds"] == 20700
    coarse = got["coarse_location"]
    assert (coarse["lat"], coarse["lng"]) != (KATHMANDU["lat"], KATHMANDU["lng"])
    assert abs(coarse["lat"] - KATHMANDU["lat"]) < 0.02
    assert abs(coarse["lng"] - KATHMANDU["lng"]) < 0.02


def test_resolve_timezone_of_a_geohash(address: str) -> None:
    got = call(address, "ResolveTimezone", {"location": {"geohash": "tuuttt"}})
    assert got["timezone"]["zone"] == "Asia/Kathmandu"
    assert "coarse_location" in got


def test_resolve_timezone_of_a_single_zone_country(address: str) -> None:
    got = call(address, "ResolveTimezone", {"location": {"country_code": "JP"}})
    assert got["timezone"]["zone"] == "Asia/Tokyo"
    assert got["timezone"]["utc_offset_seconds"] == 9 * 3600
    assert "coarse_location" not in got  # a country has no point to give back


def test_resolve_timezone_of_a_many_zone_country_names_the_field(address: str) -> None:
    status = call_error(address, "ResolveTimezone", {"location": {"country_code": "US"}})
    assert status["code"] == INVALID_ARGUMENT
    assert field_violations(status) == ["location.country_code"]


# --- Match ------------------------------------------------------------------------------


def test_match_near_los_angeles_renders_slots_in_pacific_time(address: str) -> None:
    window = next_week()
    got = match_near_la(address, window)
    assert got["user_timezone"]["zone"] == "America/Los_Angeles"
    by_id = {m["supplier"]["id"]: m for m in got["matches"]}
    assert "la-peds" in by_id, list(by_id)
    la = by_id["la-peds"]
    assert 0 < la["distance_km"] < 15
    assert la["slots"], la
    for slot in la["slots"]:
        assert {"slot_id", "start", "end", "offset_difference_minutes"} <= slot.keys(), slot
        assert slot["user_local_start"][-6:] in ("-08:00", "-07:00"), slot
        assert slot["offset_difference_minutes"] == 0
        assert slot["day_shift"] == 0
    assert got["window"] == window


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"location": {"point": {"lat": 95, "lng": 0}}}, "location.point.lat"),
        ({"radius_km": -1}, "radius_km"),
        ({"window": {"start": "2030-01-01T00:00:00Z", "end": "2030-02-02T00:00:00Z"}}, "window"),
    ],
    ids=["lat-95", "negative-radius", "32-day-window"],
)
def test_match_rejects_a_bad_request_naming_the_field(
    address: str, change: dict[str, Any], field: str
) -> None:
    request = {"location": {"point": LOS_ANGELES}, **change}
    status = call_error(address, "Match", request)
    assert status["code"] not in (INTERNAL, UNKNOWN), status
    assert status["code"] == INVALID_ARGUMENT, status
    assert field in field_violations(status), status


# --- GetSupplier, CheckSlots, ListSlots ---------------------------------------------------


def test_get_supplier_unknown_is_not_found(address: str) -> None:
    status = call_error(address, "GetSupplier", {"supplier_id": "no-such-supplier"})
    assert status["code"] == NOT_FOUND, status


def test_get_supplier_known(address: str) -> None:
    got = call(address, "GetSupplier", {"supplier_id": "kathmandu-derm"})["supplier"]
    assert got["id"] == "kathmandu-derm"
    assert got["timezone"] == "Asia/Kathmandu"
    assert got["modalities"] == ["MODALITY_REMOTE"]


def test_check_slots_answers_each_id_in_order(address: str) -> None:
    slot_id = match_near_la(address, next_week())["matches"][0]["slots"][0]["slot_id"]
    got = call(address, "CheckSlots", {"slot_ids": [slot_id, "garbage"]})
    results = got["results"]
    assert [r["slot_id"] for r in results] == [slot_id, "garbage"]
    assert [r["status"] for r in results] == ["SLOT_STATUS_BOOKABLE", "SLOT_STATUS_MALFORMED_ID"]
    assert results[0]["bookable"] is True
    assert not results[1].get("bookable", False)


def test_list_slots_rendered_for_a_timezone(address: str) -> None:
    request = {"supplier_id": "london-gp", "timezone": "America/New_York", "window": next_week()}
    got = call(address, "ListSlots", request, "-emit-defaults")
    assert got["supplier"]["id"] == "london-gp"
    assert got["user_timezone"]["zone"] == "America/New_York"
    assert len(got["slots"]) >= 5 * 16  # Monday to Friday, 09:00-17:00 in 30-minute slots
    for slot in got["slots"]:
        assert slot["user_local_start"][-6:] in ("-05:00", "-04:00"), slot
        assert slot["supplier_local_start"][-6:] in ("+00:00", "+01:00"), slot
        assert slot["offset_difference_minutes"] in (240, 300), slot


# --- process life -----------------------------------------------------------------------


def test_a_broken_feed_stops_the_server_naming_file_line_and_field(tmp_path: Path) -> None:
    lines = TINY_FEED.read_text().splitlines()
    header, supplier, availability = lines[0], lines[1], lines[2]
    broken = json.loads(lines[3])
    broken["location"]["lat"] = "north"
    feed = tmp_path / "broken.jsonl"
    feed.write_text("\n".join([header, supplier, json.dumps(broken), availability]) + "\n")
    began = time.monotonic()
    done = subprocess.run(
        [*SERVER, "--address", "127.0.0.1:0", "--feed", str(feed)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert time.monotonic() - began < 15
    assert done.returncode != 0
    assert f"{feed}:3:" in done.stderr, done.stderr
    assert "location.lat" in done.stderr, done.stderr


def test_sigterm_stops_the_server_cleanly() -> None:
    server = launch(TINY_FEED)
    try:
        wait_until_serving(server)
        began = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=10)
        assert time.monotonic() - began < 8
        assert code == 0, server.stderr_text()
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
        server.log.unlink(missing_ok=True)
