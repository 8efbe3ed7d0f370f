"""Metrics scraped over real HTTP from a real server after real calls, read by Prometheus's parser.

gRPC core's plugin hands its per-call figures to OpenTelemetry in batches (every 0.5 s), so
the test scrapes until the calls it made are all counted, within a generous patience.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from matcher_api.app import ADMIN_SERVICE_NAME
from tests.e2e.conftest import (
    ROOT,
    SERVICE,
    TINY_FEED,
    RunningServer,
    call,
    call_error,
    free_port,
    grpcurl,
    launch,
    wait_until_serving,
)

pytestmark = pytest.mark.e2e
PATIENCE_S = 30.0
DASHBOARD = ROOT / "docs" / "grafana-dashboard.json"
DURATION = "grpc_server_call_duration_seconds"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> tuple[str, Samples]:
    """The endpoint's text and every sample in it, keyed by name and labels."""
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels`` (0 if none)."""
    wanted = set(labels.items())
    return sum(v for (n, found), v in samples.items() if n == name and wanted <= found)


def scrape_until(url: str, ready: Callable[[Samples], bool], what: str) -> Samples:
    """Scrapes until ``ready(samples)``; fails, showing the last scrape, after the patience."""
    deadline = time.monotonic() + PATIENCE_S
    text, samples = scrape(url)
    while not ready(samples):
        if time.monotonic() > deadline:
            pytest.fail(f"metrics never showed {what}:\n{text}")
        time.sleep(0.2)
        text, samples = scrape(url)
    return samples


@pytest.fixture
def observed() -> Iterator[tuple[RunningServer, str]]:
    """A tiny-feed server with its metrics on a port of their own, and the metrics URL."""
    metrics = f"127.0.0.1:{free_port()}"
    server = launch(TINY_FEED, "--metrics-address", metrics)
    try:
        wait_until_serving(server)
        yield server, f"http://{metrics}/metrics"
    finally:
        code = server.stop()
        output = server.stderr_text()
        server.log.unlink(missing_ok=True)
        shutil.rmtree(server.journal.parent, ignore_errors=True)
    assert code == 0, output


def test_calls_their_status_codes_and_latency_and_the_feed_show_in_the_scrape(observed):
    server, url = observed
    london = {"location": {"point": {"lat": 51.5074, "lng": -0.1278}}}
    for _ in range(3):
        call(server.address, "ResolveTimezone", london)
    call_error(server.address, "GetSupplier", {"supplier_id": "nobody"})
    call_error(server.address, "Match", {"location": {"point": {"lat": 95, "lng": 0}}})

    method = f"{SERVICE}/ResolveTimezone"
    samples = scrape_until(
        url,
        lambda s: (
            value(s, f"{DURATION}_count", grpc_method=method) >= 3
            and value(s, f"{DURATION}_count", grpc_status="INVALID_ARGUMENT") >= 1
        ),
        "the calls made",
    )
    assert value(samples, "grpc_server_call_started_total", grpc_method=method) == 3
    assert value(samples, f"{DURATION}_count", grpc_method=method, grpc_status="OK") == 3
    not_found = {"grpc_method": f"{SERVICE}/GetSupplier", "grpc_status": "NOT_FOUND"}
    assert value(samples, f"{DURATION}_count", **not_found) == 1
    slowest = value(samples, f"{DURATION}_bucket", grpc_method=method, le="+Inf")
    assert slowest == 3  # every call falls in some bucket
    assert value(samples, f"{DURATION}_sum", grpc_method=method) > 0
    assert value(samples, "matcher_rpcs_in_flight", grpc_method=method.lstrip("/")) == 0
    assert value(samples, "matcher_catalog_suppliers") == 12
    assert value(samples, "matcher_feed_generation") == 1
    assert value(samples, "matcher_feed_loads_total", outcome="loaded") == 1
    assert value(samples, "matcher_feed_loads_total", outcome="refused") == 0
    assert value(samples, "matcher_feed_load_duration_seconds_count", outcome="loaded") == 1
    generated = datetime(2026, 11, 20, tzinfo=UTC).timestamp()  # tests/data/tiny.jsonl's header
    assert value(samples, "matcher_feed_generated_timestamp_seconds") == generated
    assert value(samples, "matcher_feed_age_seconds") >= time.time() - generated - 60
    names = {name for name, _ in samples}
    charted = re.findall(r"\b((?:grpc_server|matcher|process)_[a-z_]+)", DASHBOARD.read_text())
    assert set(charted) <= names, set(charted) - names  # the dashboard charts what is there


def test_a_reload_and_an_update_move_the_feed_and_update_metrics(observed):
    server, url = observed
    server.process.send_signal(signal.SIGHUP)
    samples = scrape_until(
        url, lambda s: value(s, "matcher_feed_generation") == 2, "the reloaded generation"
    )
    assert value(samples, "matcher_feed_loads_total", outcome="loaded") == 2
    assert value(samples, "matcher_feed_load_duration_seconds_count", outcome="loaded") == 2

    day = (datetime.now(UTC) + timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    update = {
        "update_id": "metrics-1",
        "supplier_id": "london-gp",
        "window": {"start": day.strftime(stamp), "end": (day + timedelta(days=1)).strftime(stamp)},
        "slots": [],
    }
    done = grpcurl(server.address, f"{ADMIN_SERVICE_NAME}/UpdateAvailability", data=update)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["applied"] is True
    samples = scrape_until(
        url, lambda s: value(s, "matcher_updates_applied_total") == 1, "the update applied"
    )
    assert value(samples, "matcher_update_lag_seconds_count") == 1
    assert value(samples, "matcher_update_lag_seconds_bucket", le="+Inf") == 1
