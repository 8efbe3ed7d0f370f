"""matcher-server as a real subprocess, the real grpcurl binary, and throwaway TLS material."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.conftest import GRPCURL, ROOT, SERVER

STARTED = re.compile(r"serving \d+ suppliers from .* on port (\d+)")
#: What a --workers server says once its workers are forked (its port is the one it was given).
WORKERS_READY = re.compile(r"serving \d+ suppliers (?:from \S+ )?on \S+:(\d+) from \d+ processes")
#: Generous bounds so a stuck process fails the test instead of hanging it; never a speed check.
PATIENCE_S = 60


class Server:
    """A running matcher-server on a port it picks, with every line it writes kept for inspection.

    Unlike conftest.launch it binds ``localhost:0`` (so no address of ours is in its output
    for the privacy scan to trip on), passes extra environment, and can wait for a log line.
    """

    def __init__(
        self,
        args: list[str],
        *,
        env: dict[str, str] | None = None,
        address: str = "localhost:0",
        ready: re.Pattern[str] = STARTED,
    ) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.process = subprocess.Popen(
            [*SERVER, "--address", address, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            encoding="utf-8",
            errors="replace",
            env={**os.environ, **(env or {})},
        )
        threading.Thread(target=self._read, daemon=True).start()
        try:
            self.port = int(self.wait_for(ready).group(1))
        except BaseException:  # never ready: stop it (SIGTERM first, so workers go too)
            self.process.terminate()
            try:
                self.process.wait(timeout=PATIENCE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
            raise
        self.target = f"localhost:{self.port}"

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self.lines.append("")  # end of output
            self._changed.notify_all()

    def wait_for(self, pattern: re.Pattern[str]) -> re.Match[str]:
        """The first output line matching ``pattern``, once the server has written it."""
        with self._changed:
            found = self._changed.wait_for(
                lambda: any(pattern.search(x) for x in self.lines) or "" in self.lines,
                timeout=PATIENCE_S,
            )
            assert found, f"server wrote nothing matching {pattern.pattern}"
            matches = [m for m in map(pattern.search, self.lines) if m]
            assert matches, f"server ended without {pattern.pattern}:\n{self.output}"
            return matches[0]

    @property
    def output(self) -> str:
        """Everything the server wrote to stdout and stderr so far."""
        with self._changed:
            return "".join(self.lines)

    def log_entries(self) -> list[dict[str, object]]:
        """The structured log lines the server wrote."""
        return [json.loads(x) for x in self.output.splitlines() if x.startswith("{")]

    def terminate(self) -> int:
        """Sends SIGTERM and waits for the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=PATIENCE_S)


@contextmanager
def running(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    address: str = "localhost:0",
    ready: re.Pattern[str] = STARTED,
) -> Iterator[Server]:
    """A server for the length of a block; killed if the block leaves it running."""
    server = Server(args, env=env, address=address, ready=ready)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def grpcurl(*args: str, data: object | None = None) -> subprocess.CompletedProcess[str]:
    """Runs the real grpcurl; ``data`` becomes its JSON request."""
    payload = ["-d", json.dumps(data)] if data is not None else []
    return subprocess.run(
        [str(GRPCURL), "-connect-timeout", "3", *payload, *args],
        capture_output=True,
        text=True,
        timeout=PATIENCE_S,
        check=False,
    )


def write_certs(out: Path) -> Path:
    """Throwaway CA, server and client certificates, made by the documented script."""
    command = [sys.executable, "-m", "devtools.dev_certs", "--out", str(out)]
    subprocess.run(command, check=True, cwd=ROOT)
    return out


def write_protoset(path: Path) -> Path:
    """The matcher and health descriptors, so grpcurl needs no (token-guarded) reflection."""
    command = [sys.executable, "-m", "devtools.protoset", "--out", str(path)]
    subprocess.run(command, check=True, cwd=ROOT)
    return path
