"""A load client, one process: threads that each own a connection call one RPC until a deadline.

    python -m bench.client --address 127.0.0.1:50051 --rpc match --points points.json \
        --threads 4 --start 1767225600.0 --seconds 5

Prints one JSON object: the latency of every call that started inside [start, start + seconds)
that succeeded, and how many failed, by status code.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from matcher_api.v1 import matcher_pb2 as pb
from matcher_api.v1 import matcher_pb2_grpc as pb_grpc

Call = Callable[[int], object]


def rpc(name: str, channel: grpc.Channel, points: list[list[float]]) -> Call:
    """The k-th call of one RPC on a channel; Match and ResolveTimezone cycle through points."""
    if name == "health":
        check = health_pb2_grpc.HealthStub(channel).Check
        return lambda k: check(health_pb2.HealthCheckRequest(), timeout=30)
    stub = pb_grpc.MatcherServiceStub(channel)
    where = [pb.Location(point=pb.LatLng(lat=lat, lng=lng)) for lat, lng in points]
    if name == "match":
        return lambda k: stub.Match(pb.MatchRequest(location=where[k % len(where)]), timeout=30)
    if name == "resolve":
        return lambda k: stub.ResolveTimezone(
            pb.ResolveTimezoneRequest(location=where[k % len(where)]), timeout=30
        )
    raise ValueError(name)


def worker(
    args: argparse.Namespace,
    points: list[list[float]],
    k0: int,
    out: list[float],
    errors: Counter[str],
) -> None:
    """Calls until the deadline on a connection of its own, keeping in-window latencies."""
    options = [("grpc.use_local_subchannel_pool", 1)]  # a TCP connection per thread
    with grpc.insecure_channel(args.address, options=options) as channel:
        call = rpc(args.rpc, channel, points)
        end = args.start + args.seconds
        k = k0
        while (began := time.time()) < end:
            tick = time.perf_counter()
            try:
                call(k)
            except grpc.RpcError as error:  # counted, never hidden: a load with errors is no pass
                errors[error.code().name] += 1
            else:
                if began >= args.start:
                    out.append(time.perf_counter() - tick)
            k += 7919  # threads walk the points out of step


def main() -> None:
    """Runs the threads and prints their latencies."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--rpc", choices=("health", "match", "resolve"), required=True)
    parser.add_argument("--points", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--start", type=float, required=True, help="epoch seconds")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--offset", type=int, default=0, help="where this client's points start")
    args = parser.parse_args()
    points = json.loads(args.points.read_text())
    latencies: list[list[float]] = [[] for _ in range(args.threads)]
    errors: list[Counter[str]] = [Counter() for _ in range(args.threads)]
    threads = [
        threading.Thread(
            target=worker, args=(args, points, args.offset + t, latencies[t], errors[t])
        )
        for t in range(args.threads)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failed = sum(errors, Counter[str]())
    print(json.dumps({"latencies": [x for mine in latencies for x in mine], "errors": failed}))


if __name__ == "__main__":
    main()
