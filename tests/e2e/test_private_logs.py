"""Real traffic, good and bad, at a server subprocess: its output never holds personal data."""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path

import pytest

from matcher.auth import digest
from matcher.feeds import load_feed
from tests.conftest import TINY_FEED
from tests.e2e.serving import grpcurl, running, write_protoset
from tests.geoip_db import write_db

pytestmark = pytest.mark.e2e

TOKEN = "privacy-test-token-4f1c"
WRONG_TOKEN = "not-a-real-token-77ab"
LAT, LNG = 48.85661234, 2.35221987
GEOHASH = "u09tvw0f6szye"
SERVICE = "matcher.v1.MatcherService"
#: IP addresses the session sends, each as sent: cities, a wide place, a country, one the
#: database does not know, private ones, one malformed; IPv4, IPv6 and wrapped IPv4.
IPS_SENT = (
    "81.2.69.160",
    "::ffff:81.2.69.161",
    "2400:1A00:0000::0005",
    "23.40.0.1",
    "126.1.2.3",
    "8.8.4.4",
    "192.168.1.1",
    "64:ff9b::10.0.0.1",
    "81.2.69.1.5",
)


def ip_spellings(sent: str) -> set[str]:
    """Every way a log line could spell an address, or the part of it that locates a user."""
    written = {sent, sent.lower(), sent.upper()}
    try:
        address = ipaddress.ip_address(sent)
    except ValueError:
        return written  # malformed: only as sent
    carried = [address]
    if isinstance(address, ipaddress.IPv6Address):
        v4 = address.ipv4_mapped or (
            ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
            if str(address).startswith("64:ff9b")
            else None
        )
        carried += [v4] if v4 else []
    for a in carried:
        written |= {str(a), a.exploded, str(a).upper(), a.exploded.upper(), a.reverse_pointer}
        written.add(str(int(a)))
        if isinstance(a, ipaddress.IPv4Address):
            high, low = int(a) >> 16, int(a) & 0xFFFF
            written |= {f"::ffff:{a}", f"::ffff:{high:x}:{low:x}", f"{high:x}:{low:x}"}
            written.add(str(a).rsplit(".", 1)[0] + ".")  # the /24 a truncating logger keeps
        else:
            written.add(":".join(a.exploded.split(":")[:3]))  # its /48
    return written


def coordinate_spellings() -> list[str]:
    """The raw coordinates as a log line might spell them; 5+ decimals, unlike any duration."""
    spellings = []
    for value in (LAT, LNG):
        spellings += [repr(value), f"{value:.5f}", f"{value:.6f}", f"{value:.5f}".replace(".", ",")]
    return spellings


@pytest.fixture(scope="module")
def exchange(tmp_path_factory):
    """Runs a session of varied calls at DEBUG, then stops the server; what it wrote and saw.

    DEBUG logs every line INFO does and more, so scanning it covers both levels. The server
    also has a GeoIP database and a journal, whose directory is scanned for what it stored.
    """
    private = tmp_path_factory.mktemp("private")
    protoset = write_protoset(private / "matcher.protoset")
    geoip_db = write_db(private / "city.mmdb")
    stored = private / "stored"
    stored.mkdir()
    here = {"point": {"lat": LAT, "lng": LNG}}
    by_ip = [
        (TOKEN, method, {"location": {"ip_address": ip}, **extra})
        for ip in IPS_SENT
        for method, extra in (
            ("Match", {}),
            ("ResolveTimezone", {}),
            ("ListSlots", {"supplier_id": "london-gp"}),
        )
    ]
    calls = [
        *by_ip,
        (
            TOKEN,
            "Match",
            {
                "location": {"ip_address": IPS_SENT[0]},
                "modalities": ["MODALITY_IN_PERSON"],
                "radius_km": 5,
            },
        ),
        (WRONG_TOKEN, "Match", {"location": {"ip_address": IPS_SENT[0]}}),
        (TOKEN, "Match", {"location": here, "page_size": 5}),
        (TOKEN, "Match", {"location": {"geohash": GEOHASH}}),
        (TOKEN, "Match", {"location": {"point": {"lat": LAT + 50, "lng": LNG}}}),
        (TOKEN, "Match", {"location": here, "page_token": "forged.token"}),
        (TOKEN, "ResolveTimezone", {"location": here}),
        (TOKEN, "ListSlots", {"supplier_id": "london-gp", "location": here}),
        (TOKEN, "GetSupplier", {"supplier_id": "london-gp"}),
        (TOKEN, "GetSupplier", {"supplier_id": "Chaoyang Clinic"}),
        (TOKEN, "CheckSlots", {"slot_ids": ["garbage", ""]}),
        (WRONG_TOKEN, "Match", {"location": here}),
        (None, "ResolveTimezone", {"location": here}),
    ]
    env = {"MATCHER_AUTH_KEYS": f"{digest('ops')} admin;{digest(TOKEN)} match"}
    args = ["--feed", str(TINY_FEED), "--log-level", "DEBUG", "--geoip-db", str(geoip_db)]
    args += ["--journal", str(stored / "updates.sqlite")]
    with running(args, env=env) as server:
        results = [
            grpcurl(
                "-plaintext",
                "-v",
                "-protoset",
                str(protoset),
                *(["-H", f"authorization: Bearer {token}"] if token else []),
                server.target,
                f"{SERVICE}/{method}",
                data=data,
            )
            for token, method, data in calls
        ]
        assert server.terminate() == 0
        return server.output, results, stored


def test_the_session_covered_success_client_errors_and_refusals(exchange):
    output, _, _ = exchange
    codes = {json.loads(x).get("code") for x in output.splitlines()}
    assert {"OK", "INVALID_ARGUMENT", "NOT_FOUND", "UNAUTHENTICATED"} <= codes


def test_every_line_the_server_wrote_is_one_json_object(exchange):
    output, _, _ = exchange
    assert all(isinstance(json.loads(line), dict) for line in output.splitlines())


def test_each_call_is_logged_under_the_request_id_the_caller_received(exchange):
    output, results, _ = exchange
    logged = {json.loads(x).get("request_id") for x in output.splitlines()}
    received = [re.search(r"x-request-id: (\w+)", r.stdout + r.stderr) for r in results]
    assert all(received)
    assert {m.group(1) for m in received if m} <= logged


def test_a_plaintext_keyless_start_is_warned_about_loudly(exchange):
    output, _, _ = exchange
    warnings = [
        e["message"] for e in map(json.loads, output.splitlines()) if e["level"] == "WARNING"
    ]
    assert any("PLAINTEXT" in w for w in warnings)
    assert not any("AUTHENTICATION OFF" in w for w in warnings)  # keys came from the environment


@pytest.mark.parametrize(
    "secret",
    [
        *coordinate_spellings(),
        GEOHASH,
        TOKEN,
        WRONG_TOKEN,
        digest(TOKEN),
        "127.0.0.1",
        "ipv4:",
        "ipv6:",
        "[::1]",
        *(s.name for s in load_feed(TINY_FEED).suppliers),
    ],
)
def test_the_server_output_never_holds_locations_tokens_peers_or_names(exchange, secret):
    output, results, _ = exchange
    assert results[0].returncode == 0, results[0].stderr
    assert secret.lower() not in output.lower()


def test_the_session_located_users_by_ip_and_refused_bad_addresses(exchange):
    _, results, _ = exchange
    outcomes = [(r.returncode, r.stdout + r.stderr) for r in results[: len(IPS_SENT) * 3]]
    assert any(code == 0 and "ZONE_SOURCE_IP_CITY" in text for code, text in outcomes)
    assert any(code == 0 and "ZONE_SOURCE_IP_AREA" in text for code, text in outcomes)
    assert any("location.ip_address" in text for _, text in outcomes)  # private, malformed
    assert any("NotFound" in text and "does not locate" in text for _, text in outcomes)


def test_the_session_ran_at_debug(exchange):
    output, _, _ = exchange
    assert any(json.loads(x)["level"] == "DEBUG" for x in output.splitlines())


@pytest.mark.parametrize("spelling", sorted({s for sent in IPS_SENT for s in ip_spellings(sent)}))
def test_no_ip_address_is_logged_echoed_or_stored_in_any_spelling(exchange, spelling):
    output, results, stored = exchange
    assert spelling.lower() not in output.lower()
    for result in results:
        assert spelling.lower() not in (result.stdout + result.stderr).lower()
    for path in Path(stored).iterdir():
        assert spelling.encode() not in path.read_bytes()
