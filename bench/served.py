"""Throughput and latency through real server processes on loopback, forked from this one.

This process never touches gRPC itself (it forks servers); the load comes from client processes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.measure import memory_mib, summary
from matcher.engine.catalog import Catalog
from matcher.geo.timezones import TimezoneResolver
from matcher.instants import utc_now
from matcher.model import Point
from matcher.paging import PageTokens
from matcher.service import Matching
from matcher.settings import Limits
from matcher_api.workers import fork_workers, stop

RPCS = ("health", "match", "resolve")
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listeners(port: int) -> int:
    """How many sockets listen on a loopback TCP port (one per ready worker)."""
    rows = [
        row.split()
        for table in ("/proc/net/tcp", "/proc/net/tcp6")
        for row in Path(table).read_text().splitlines()[1:]
    ]
    return sum(1 for r in rows if r[1].endswith(f":{port:04X}") and r[3] == "0A")  # 0A: LISTEN


def load(
    address: str,
    rpc: str,
    *,
    points: Path,
    clients: int,
    threads: int,
    seconds: float,
    warmup: float,
) -> dict[str, float]:
    """Drives one RPC from client processes at once; calls/s and latency over the window."""
    start = time.time() + warmup  # client start-up and warm-up calls before the window opens
    command = [sys.executable, "-m", "bench.client", "--address", address, "--rpc", rpc]
    command += ["--points", str(points), "--threads", str(threads), "--start", str(start)]
    command += ["--seconds", str(seconds)]
    procs = [
        subprocess.Popen([*command, "--offset", str(c * 104729)], stdout=subprocess.PIPE, cwd=ROOT)
        for c in range(clients)
    ]
    latencies = [x for p in procs for x in json.loads(p.communicate()[0])]
    return {"calls_per_s": len(latencies) / seconds, **summary(latencies)}


def run(
    catalog: Catalog,
    *,
    points: Sequence[Point],
    workers: Sequence[int],
    clients: int,
    threads: int,
    seconds: float,
    warmup: float,
) -> list[dict[str, object]]:
    """For each worker count: every RPC's throughput, then each process's memory."""
    limits = Limits()
    matching = Matching(
        catalog=lambda: catalog,
        resolver=TimezoneResolver(),
        tokens=PageTokens(b"bench", ttl=limits.page_token_ttl),
        limits=limits,
        clock=utc_now,
    )
    results = []
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump([[p.lat, p.lng] for p in points], file)
        file.flush()
        for count in workers:
            port = free_port()
            address = f"127.0.0.1:{port}"
            pids = fork_workers(
                address,
                matching=matching,
                count=count,
                max_workers=16,
                reflect=False,
                grace_seconds=5.0,
            )
            try:
                while listeners(port) < count:
                    time.sleep(0.05)
                rpcs = {
                    rpc: load(
                        address,
                        rpc,
                        points=Path(file.name),
                        clients=clients,
                        threads=threads,
                        seconds=seconds,
                        warmup=warmup,
                    )
                    for rpc in RPCS
                }
                memory = {
                    "parent": memory_mib(os.getpid()),
                    "workers": [memory_mib(p) for p in pids],
                }
            finally:
                stop(pids)
                for pid in pids:
                    os.waitpid(pid, 0)
            results.append({"workers": count, "rpcs": rpcs, "memory": memory})
    return results
