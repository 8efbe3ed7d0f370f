"""Real traffic, good and bad, at a server subprocess: its output never holds personal data."""

from __future__ import annotations

import json
import re

import pytest

from matcher.auth import digest
from matcher.feeds import load_feed
from tests.conftest import TINY_FEED
from tests.e2e.serving import grpcurl, running, write_protoset

pytestmark = pytest.mark.e2e

TOKEN = "privacy-test-token-4f1c"
WRONG_TOKEN = "not-a-real-token-77ab"
LAT, LNG = 48.85661234, 2.35221987
GEOHASH = "u09tvw0f6szye"
SERVICE = "matcher.v1.MatcherService"


def coordinate_spellings() -> list[str]:
    """The raw coordinates as a log line might spell them; 5+ decimals, unlike any duration."""
    spellings = []
    for value in (LAT, LNG):
        spellings += [repr(value), f"{value:.5f}", f"{value:.6f}", f"{value:.5f}".replace(".", ",")]
    return spellings


@pytest.fixture(scope="module")
def exchange(tmp_path_factory):
    """Runs a session of varied calls, then stops the server; what it wrote and what was seen."""
    protoset = write_protoset(tmp_path_factory.mktemp("private") / "matcher.protoset")
    here = {"point": {"lat": LAT, "lng": LNG}}
    calls = [
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
    with running(["--feed", str(TINY_FEED)], env=env) as server:
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
        return server.output, results


def test_the_session_covered_success_client_errors_and_refusals(exchange):
    output, _ = exchange
    codes = {json.loads(x).get("code") for x in output.splitlines()}
    assert {"OK", "INVALID_ARGUMENT", "NOT_FOUND", "UNAUTHENTICATED"} <= codes


def test_every_line_the_server_wrote_is_one_json_object(exchange):
    output, _ = exchange
    assert all(isinstance(json.loads(line), dict) for line in output.splitlines())


def test_each_call_is_logged_under_the_request_id_the_caller_received(exchange):
    output, results = exchange
    logged = {json.loads(x).get("request_id") for x in output.splitlines()}
    received = [re.search(r"x-request-id: (\w+)", r.stdout + r.stderr) for r in results]
    assert all(received)
    assert {m.group(1) for m in received if m} <= logged


def test_a_plaintext_keyless_start_is_warned_about_loudly(exchange):
    output, _ = exchange
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
    output, results = exchange
    assert results[0].returncode == 0, results[0].stderr
    assert secret.lower() not in output.lower()
