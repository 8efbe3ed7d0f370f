"""matcher-server --workers: several processes share one port, and SIGTERM stops them all."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import (
    ROOT,
    SERVER,
    TINY_FEED,
    free_port,
    grpcurl,
    launch,
    wait_until,
    wait_until_serving,
)
from tests.geoip_db import BERLIN_AT_LONDON, replace_file, write_db

pytestmark = pytest.mark.e2e


def children(pid: int) -> list[int]:
    """The pids a process forked that are still alive."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def test_two_workers_serve_one_port_and_stop_together_on_sigterm():
    server = launch(TINY_FEED, "--workers", "2")
    try:
        wait_until_serving(server)
        workers = children(server.process.pid)
        assert len(workers) == 2
        for _ in range(6):  # each grpcurl is a new connection; the kernel picks the worker
            done = grpcurl(
                server.address,
                "matcher.v1.MatcherService/Match",
                data={"location": {"point": {"lat": 34.05, "lng": -118.25}}},
            )
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout)["user_timezone"]["zone"] == "America/Los_Angeles"
    finally:
        code = server.stop()
        output = server.stderr_text()
        server.log.unlink(missing_ok=True)
    assert code == 0, output
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def test_workers_need_a_fixed_port():
    done = subprocess.run(
        [*SERVER, "--address", "127.0.0.1:0", "--workers", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--workers above 1 needs a fixed port" in done.stderr


def free_port_pair() -> int:
    """A port such that it and the next one are both free now."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    pytest.fail("no two consecutive free ports")


def test_each_worker_serves_its_metrics_on_the_next_port_and_all_stop_on_sigterm():
    port = free_port_pair()
    server = launch(TINY_FEED, "--workers", "2", "--metrics-address", f"127.0.0.1:{port}")
    try:
        wait_until_serving(server)
        for k in (0, 1):
            url = f"http://127.0.0.1:{port + k}/metrics"
            with urllib.request.urlopen(url, timeout=10) as response:
                text = response.read().decode()
            families = {f.name: f for f in text_string_to_metric_families(text)}
            assert families["matcher_catalog_suppliers"].samples[0].value == 12, url
    finally:
        code = server.stop()
        output = server.stderr_text()
        server.log.unlink(missing_ok=True)
    assert code == 0, output


def test_sighup_reaches_every_worker_which_reloads_its_geoip_database(tmp_path):
    """The feed cannot reload under --workers; the GeoIP database can, in each process."""
    db = write_db(tmp_path / "city.mmdb")
    server = launch(TINY_FEED, "--workers", "2", "--geoip-db", str(db))
    try:
        wait_until_serving(server)
        berlin = write_db(tmp_path / "berlin.mmdb", blocks=(BERLIN_AT_LONDON,))
        replace_file(db, berlin.read_bytes())
        server.process.send_signal(signal.SIGHUP)
        wait_until(
            lambda: server.stderr_text().count("reloaded GeoIP database") == 2,
            what="both workers' reloads",
        )
        for _ in range(6):  # new connections, spread over both workers
            done = grpcurl(
                server.address,
                "matcher.v1.MatcherService/ResolveTimezone",
                data={"location": {"ip_address": "81.2.69.160"}},
            )
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout)["timezone"]["zone"] == "Europe/Berlin"
        assert len(children(server.process.pid)) == 2  # SIGHUP stopped nobody
    finally:
        code = server.stop()
        output = server.stderr_text()
        server.log.unlink(missing_ok=True)
    assert code == 0, output
