"""Throughput and latency through real server processes on loopback, forked from this one.

This process never touches gRPC itself (it forks servers); the load comes from client processes.
Beside the real servers, the serving floor: the same servers (same servicer registration, same
forked workers) whose Match answers one pre-built MatchResponse of a typical size, so that
served Match can be read as a share of what the gRPC machinery alone allows.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc

from bench.measure import memory_mib, summary
from matcher.engine.catalog import Catalog
from matcher.geo.timezones import TimezoneResolver
from matcher.instants import utc_now
from matcher.model import Point
from matcher.paging import PageTokens
from matcher.service import Matching
from matcher.settings import Limits
from matcher_api import convert
from matcher_api.app import ServicerFactory
from matcher_api.servicer import MatcherServicer
from matcher_api.v1 import matcher_pb2 as pb
from matcher_api.workers import fork_workers, stop

RPCS = ("health", "match", "resolve")
#: The crowd: this many clients calling Match at once (client processes of CROWD_THREADS each),
#: on one worker, for issue #12's "32 concurrent clients" target.
CROWD = 32
CROWD_THREADS = 8
#: Points whose Match responses the floor's pre-built one is the median-sized of.
FLOOR_SAMPLE = 51
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
) -> dict[str, Any]:
    """Drives one RPC from client processes at once; calls/s and latency over the window."""
    start = time.time() + warmup  # client start-up and warm-up calls before the window opens
    command = [sys.executable, "-m", "bench.client", "--address", address, "--rpc", rpc]
    command += ["--points", str(points), "--threads", str(threads), "--start", str(start)]
    command += ["--seconds", str(seconds)]
    procs = [
        subprocess.Popen([*command, "--offset", str(c * 104729)], stdout=subprocess.PIPE, cwd=ROOT)
        for c in range(clients)
    ]
    outputs = [json.loads(p.communicate()[0]) for p in procs]
    latencies = [x for out in outputs for x in out["latencies"]]
    errors = sum((Counter[str](out["errors"]) for out in outputs), Counter[str]())
    return {"calls_per_s": len(latencies) / seconds, **summary(latencies), "errors": dict(errors)}


class FloorServicer(MatcherServicer):
    """MatcherService whose Match answers one pre-built MatchResponse: the serving floor."""

    def __init__(self, matching: Matching, *, response: pb.MatchResponse) -> None:
        super().__init__(matching)
        self._response = response

    def Match(self, request: pb.MatchRequest, context: grpc.ServicerContext) -> pb.MatchResponse:
        """The same response to every request, as fast as the server can send it."""
        return self._response


def typical_response(matching: Matching, *, points: Sequence[Point]) -> pb.MatchResponse:
    """The median-sized Match response of the first points, built as the servicer builds it."""
    responses = [
        convert.match_page(
            matching.match(
                convert.match_input(pb.MatchRequest(location=_location(p))), wanted=lambda: True
            )
        )
        for p in points[:FLOOR_SAMPLE]
    ]
    responses.sort(key=lambda r: r.ByteSize())
    return responses[len(responses) // 2]


def _location(p: Point) -> pb.Location:
    """A point as the request's location."""
    return pb.Location(point=pb.LatLng(lat=p.lat, lng=p.lng))


def serve(matching: Matching, *, count: int, servicer: ServicerFactory) -> tuple[str, list[int]]:
    """Forks ``count`` workers serving on a free loopback port; returns it once all listen."""
    port = free_port()
    pids = fork_workers(
        f"127.0.0.1:{port}",
        matching=matching,
        count=count,
        max_workers=16,
        reflect=False,
        grace_seconds=5.0,
        servicer=servicer,
    )
    while listeners(port) < count:
        time.sleep(0.05)
    return f"127.0.0.1:{port}", pids


def halt(pids: list[int]) -> None:
    """Stops the workers and reaps them."""
    stop(pids)
    for pid in pids:
        os.waitpid(pid, 0)


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
    floor = typical_response(matching, points=points)

    def floor_servicer(m: Matching) -> FloorServicer:
        return FloorServicer(m, response=floor)

    results: list[dict[str, object]] = []
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump([[p.lat, p.lng] for p in points], file)
        file.flush()

        def drive(
            address: str, rpc: str, *, clients: int = clients, threads: int = threads
        ) -> dict[str, Any]:
            """One RPC's load from ``clients`` processes of ``threads`` callers each."""
            return load(
                address,
                rpc,
                points=Path(file.name),
                clients=clients,
                threads=threads,
                seconds=seconds,
                warmup=warmup,
            )

        def one_at_a_time(address: str) -> dict[str, Any]:
            """Match from one client calling one at a time: the round trip."""
            return drive(address, "match", clients=1, threads=1)

        def crowd_load(address: str) -> dict[str, Any]:
            """Match from CROWD clients at once, each on a connection of its own."""
            crowd = drive(address, "match", clients=CROWD // CROWD_THREADS, threads=CROWD_THREADS)
            return {**crowd, "clients": CROWD}

        for count in workers:
            first = not results
            address, pids = serve(matching, count=count, servicer=MatcherServicer)
            try:
                rpcs = {rpc: drive(address, rpc) for rpc in RPCS}
                sequential = {"match": one_at_a_time(address)} if first else {}
                crowd = {"match": crowd_load(address)} if first else {}
                memory = {
                    "parent": memory_mib(os.getpid()),
                    "workers": [memory_mib(p) for p in pids],
                }
            finally:
                halt(pids)
            address, pids = serve(matching, count=count, servicer=floor_servicer)
            try:
                rpcs["floor"] = {**drive(address, "match"), "response_bytes": floor.ByteSize()}
                if first:
                    sequential["floor"] = one_at_a_time(address)
            finally:
                halt(pids)
            run = {"workers": count, "rpcs": rpcs, "memory": memory}
            results.append({**run, "sequential": sequential, "crowd": crowd} if first else run)
    return results
