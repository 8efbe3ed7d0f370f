"""matcher-server --workers: several processes share one port, and SIGTERM stops them all."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    ROOT,
    SERVER,
    TINY_FEED,
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
