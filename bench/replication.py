"""Replicas on one PostgreSQL: propagation, sustained updates, Match while updates flow, memory.

    python -m bench.replication --out bench/results/

Starts a throwaway PostgreSQL and three matcher-server processes on one store (a synthetic feed
of --suppliers), then measures, each from a process of its own where it drives load:

- propagation: an update sent to the first replica, from its acknowledgement to the moment
  another replica serves it (ListSlots on each other replica, polled without pause);
- sustained updates: client processes send distinct updates to the replicas in turn for
  --seconds; acknowledged updates per second, and how long the replicas then take to catch up;
- Match on one replica, quiet and then while updates flow to another at --match-rate per second;
- memory: each replica's RSS and PSS at the end, and its peak RSS.

Writes replication.json into --out and prints a table (make bench runs it after the sizes).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench import synthetic
from bench.measure import memory_mib, summary
from devtools.postgres import TemporaryPostgres
from devtools.services import free_port
from matcher_api.v1 import feed_admin_pb2 as admin_pb
from matcher_api.v1 import feed_admin_pb2_grpc as admin_grpc
from matcher_api.v1 import matcher_pb2 as pb
from matcher_api.v1 import matcher_pb2_grpc as pb_grpc

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: Updates open hours from here on: three days ahead, so that no slot is in the past.
DAY = (datetime.now(UTC) + timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
SEPARATE = [("grpc.use_local_subchannel_pool", 1)]  # a TCP connection of its own


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suppliers", type=int, default=10_000, help="feed size")
    parser.add_argument("--replicas", type=int, default=3, help="server processes")
    parser.add_argument("--samples", type=int, default=300, help="propagation updates")
    parser.add_argument("--rate", type=float, default=20.0, help="propagation updates per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="sustained-update window")
    parser.add_argument("--clients", type=int, default=2, help="sustained-update processes")
    parser.add_argument("--threads", type=int, default=16, help="threads per client process")
    parser.add_argument("--match-seconds", type=float, default=10.0, help="each Match window")
    parser.add_argument("--match-rate", type=float, default=100.0, help="updates/s during Match")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--cache", type=Path, default=HERE / ".cache", help="generated feeds")
    return parser.parse_args(argv)


def stamp(instant: datetime) -> Timestamp:
    message = Timestamp()
    message.FromDatetime(instant)
    return message


def update(supplier: str, k: int, *, prefix: str, wait: bool = True) -> Any:
    """Update k: ``supplier`` offers one 20-minute slot in the k-th hour from DAY, only that."""
    start = DAY + timedelta(hours=k)
    request = admin_pb.UpdateAvailabilityRequest(
        update_id=f"{prefix}-{supplier}-{k}",
        supplier_id=supplier,
        window=pb.TimeWindow(start=stamp(start), end=stamp(start + timedelta(hours=1))),
        slots=[admin_pb.NewSlot(start=stamp(start), minutes=20)],
    )
    if not wait:
        request.wait_applied = False
    return request


def shows(stub: pb_grpc.MatcherServiceStub, supplier: str, k: int) -> bool:
    """Whether a replica serves update k of ``supplier``: exactly its slot in that hour."""
    start = DAY + timedelta(hours=k)
    listed = stub.ListSlots(
        pb.ListSlotsRequest(
            supplier_id=supplier,
            timezone="UTC",
            window=pb.TimeWindow(start=stamp(start), end=stamp(start + timedelta(hours=1))),
        ),
        timeout=30,
    )
    return [(s.start.seconds, s.end.seconds) for s in listed.slots] == [
        (int(start.timestamp()), int((start + timedelta(minutes=20)).timestamp()))
    ]


def supplier_ids(feed: Path, count: int) -> list[str]:
    """The ids of the first ``count`` suppliers of a feed."""
    ids = []
    with feed.open() as lines:
        for line in lines:
            record = json.loads(line)
            if record.get("record") == "supplier":
                ids.append(record["id"])
                if len(ids) == count:
                    break
    return ids


@contextmanager
def replicas(feed: Path, dsn: str, count: int) -> Iterator[list[tuple[str, int]]]:
    """``count`` matcher-server processes on one store, each SERVING; (address, pid) of each."""
    with ExitStack() as stack:
        started = []
        for _ in range(count):
            address = f"127.0.0.1:{free_port()}"
            command = [sys.executable, "-m", "matcher_api.server", "--address", address]
            command += ["--feed", str(feed), "--store", dsn, "--log-level", "WARNING"]
            command += ["--no-reflection", "--max-concurrent-rpcs", "512"]
            process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.DEVNULL)
            stack.callback(process.wait)
            stack.callback(process.terminate)
            started.append((address, process))
            serving(address)  # one at a time: the first records the generation
        yield [(address, process.pid) for address, process in started]


def serving(address: str, *, patience: float = 300.0) -> None:
    """Waits until a server's health check answers SERVING."""
    deadline = time.monotonic() + patience
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                answer = health.Check(health_pb2.HealthCheckRequest(), timeout=2)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    raise RuntimeError(f"{address} not SERVING after {patience:.0f} s")


def propagation(
    addresses: list[str], ids: list[str], *, samples: int, rate: float
) -> dict[str, Any]:
    """Ack on the first replica -> visible on each other one, one update at a time."""
    channels = [grpc.insecure_channel(a, options=SEPARATE) for a in addresses]
    admin = admin_grpc.FeedAdminServiceStub(channels[0])
    others = [pb_grpc.MatcherServiceStub(c) for c in channels[1:]]
    delays: list[float] = []
    acks: list[float] = []
    for k in range(samples):
        began = time.perf_counter()
        supplier = ids[k % len(ids)]
        admin.UpdateAvailability(update(supplier, k, prefix="p"), timeout=30)
        acked = time.perf_counter()
        acks.append(acked - began)

        def watch(
            stub: pb_grpc.MatcherServiceStub,
            supplier: str = supplier,
            k: int = k,
            at: float = acked,
        ) -> None:
            while not shows(stub, supplier, k):
                pass
            delays.append(time.perf_counter() - at)

        watchers = [threading.Thread(target=watch, args=(s,)) for s in others]
        for w in watchers:
            w.start()
        for w in watchers:
            w.join()
        time.sleep(max(0.0, 1.0 / rate - (time.perf_counter() - began)))
    for channel in channels:
        channel.close()
    return {"ack": summary(acks), "visible_elsewhere": summary(delays)}


def send_updates(
    addresses: list[str],
    ids: list[str],
    *,
    prefix: str,
    threads: int,
    start: float,
    until: float,
    rate: float,
    results: Queue[int],
) -> None:
    """Sends distinct updates from ``start`` until ``until`` (Unix times) from threads, each
    with a connection of its own, to the replicas in turn; at most ``rate`` per second in all
    (0: no limit). Puts the count acknowledged on ``results``."""
    done = [0] * threads
    interval = threads / rate if rate else 0.0

    def send(t: int) -> None:
        channel = grpc.insecure_channel(addresses[t % len(addresses)], options=SEPARATE)
        admin = admin_grpc.FeedAdminServiceStub(channel)
        k = t
        time.sleep(max(0.0, start - time.time()))
        while (began := time.time()) < until:
            supplier = ids[k % len(ids)]
            admin.UpdateAvailability(update(supplier, k // len(ids), prefix=prefix), timeout=30)
            done[t] += 1
            k += threads
            if interval:
                time.sleep(max(0.0, interval - (time.time() - began)))
        channel.close()

    workers = [threading.Thread(target=send, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    results.put(sum(done))


def sustained(
    addresses: list[str], ids: list[str], *, clients: int, threads: int, seconds: float
) -> dict[str, Any]:
    """Acknowledged updates per second from client processes, the lag seen meanwhile, and the
    time every replica then takes to serve all of them."""
    spawn = multiprocessing.get_context("spawn")
    results: Queue[int] = spawn.Queue()
    start = time.time() + 6.0  # client start-up (a few seconds on a busy machine)
    until = start + seconds
    procs = [
        spawn.Process(
            target=send_updates,
            args=(addresses, ids),
            kwargs={
                "prefix": f"s{c}",
                "threads": threads,
                "start": start,
                "until": until,
                "rate": 0.0,
                "results": results,
            },
        )
        for c in range(clients)
    ]
    for p in procs:
        p.start()
    statuses = [admin_grpc.FeedAdminServiceStub(grpc.insecure_channel(a)) for a in addresses]
    lags: list[int] = []
    while time.time() < until:
        time.sleep(0.5)
        if time.time() > start:
            lags += [
                s.GetFeedStatus(admin_pb.GetFeedStatusRequest()).replication.lag for s in statuses
            ]
    acknowledged = sum(results.get(timeout=120) for _ in procs)
    for p in procs:
        p.join()
    ended = time.time()
    for s in statuses:
        while s.GetFeedStatus(admin_pb.GetFeedStatusRequest()).replication.lag:
            time.sleep(0.01)
    caught_up = time.time() - ended
    return {
        "seconds": seconds,
        "clients": clients * threads,
        "acknowledged": acknowledged,
        "updates_per_s": acknowledged / (ended - start),
        "lag_entries_max": max(lags, default=0),
        "lag_entries_median": statistics.median(lags) if lags else 0,
        "catch_up_after_s": caught_up,
    }


def match_latency(address: str, *, seconds: float) -> dict[str, float]:
    """Match, one call after another from two threads, for ``seconds``."""
    points = synthetic.user_points(500)
    latencies: list[float] = []
    until = time.time() + seconds

    def call(offset: int) -> None:
        with grpc.insecure_channel(address, options=SEPARATE) as channel:
            stub = pb_grpc.MatcherServiceStub(channel)
            k = offset
            while time.time() < until:
                p = points[k % len(points)]
                began = time.perf_counter()
                stub.Match(
                    pb.MatchRequest(location=pb.Location(point=pb.LatLng(lat=p.lat, lng=p.lng))),
                    timeout=30,
                )
                latencies.append(time.perf_counter() - began)
                k += 1

    threads = [threading.Thread(target=call, args=(o,)) for o in (0, 250)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return summary(latencies)


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far, user and system, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def match_while_updating(
    servers: list[tuple[str, int]], ids: list[str], *, seconds: float, rate: float
) -> dict[str, Any]:
    """Match on the second replica: quiet, while updates go to the first at ``rate``, and quiet
    again (the two quiet runs show how much the machine alone moves the figures)."""
    addresses = [a for a, _ in servers]
    follower = servers[2][1]  # neither takes the updates nor serves the Match calls
    idle = cpu_seconds(follower)
    quiet = match_latency(addresses[1], seconds=seconds)
    idle = cpu_seconds(follower) - idle
    spawn = multiprocessing.get_context("spawn")
    results: Queue[int] = spawn.Queue()
    start = time.time() + 6.0  # the sender's start-up
    until = start + seconds
    sender = spawn.Process(
        target=send_updates,
        args=(addresses[:1], ids),
        kwargs={
            "prefix": "m",
            "threads": 16,
            "start": start,
            "until": until,
            "rate": rate,
            "results": results,
        },
    )
    sender.start()
    time.sleep(max(0.0, start - time.time()))
    following = cpu_seconds(follower)
    busy = match_latency(addresses[1], seconds=seconds)
    following = cpu_seconds(follower) - following
    sent = results.get(timeout=120)
    sender.join()
    return {
        "quiet": quiet,
        "updating": busy,
        "quiet_after": match_latency(addresses[1], seconds=seconds),
        "updates_sent": sent,
        "update_rate": rate,
        "update_rate_achieved": sent / seconds,
        "follower_cpu_ms_per_update": (following - idle) * 1000 / max(sent, 1),
    }


def peak_rss_mib(pid: int) -> float:
    """A process's peak resident set (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement, on one PostgreSQL and ``--replicas`` servers."""
    feed = synthetic.feed(args.suppliers, cache=args.cache)
    ids = supplier_ids(feed, 2000)
    started = time.time()
    with TemporaryPostgres() as postgres, replicas(feed, postgres.dsn, args.replicas) as servers:
        addresses = [a for a, _ in servers]
        print("bench: propagation ...", file=sys.stderr, flush=True)
        spread = propagation(addresses, ids, samples=args.samples, rate=args.rate)
        print("bench: sustained updates ...", file=sys.stderr, flush=True)
        load = sustained(
            addresses, ids, clients=args.clients, threads=args.threads, seconds=args.seconds
        )
        print("bench: Match while updates flow ...", file=sys.stderr, flush=True)
        match = match_while_updating(servers, ids, seconds=args.match_seconds, rate=args.match_rate)
        memory = [{**memory_mib(pid), "peak_rss_mib": peak_rss_mib(pid)} for _, pid in servers]
    return {
        "command": " ".join(["python", "-m", "bench.replication", *sys.argv[1:]]),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "suppliers": args.suppliers,
        "replicas": args.replicas,
        "propagation": spread,
        "sustained": load,
        "match": match,
        "memory": memory,
    }


def table(results: dict[str, Any]) -> str:
    """The figures as the README shows them."""
    seen, ack = results["propagation"]["visible_elsewhere"], results["propagation"]["ack"]
    load, match = results["sustained"], results["match"]
    quiet, busy, after = match["quiet"], match["updating"], match["quiet_after"]
    memory = results["memory"]
    lines = [
        f"{results['replicas']} replicas, {results['suppliers']:,} suppliers, one PostgreSQL",
        f"ack (UpdateAvailability, served here): {ack['median_ms']:.1f} / {ack['p99_ms']:.1f} ms",
        f"ack -> visible on another replica: median {seen['median_ms']:.1f} ms,"
        f" p99 {seen['p99_ms']:.1f} ms ({seen['n']} samples)",
        f"sustained: {load['updates_per_s']:.0f} updates/s acknowledged from"
        f" {load['clients']} clients; lag max {load['lag_entries_max']} entries,"
        f" all caught up {load['catch_up_after_s']:.2f} s after the last",
        f"Match p50 / p99: quiet {quiet['median_ms']:.2f} / {quiet['p99_ms']:.2f} ms,"
        f" with {match['update_rate_achieved']:.0f} updates/s {busy['median_ms']:.2f} /"
        f" {busy['p99_ms']:.2f} ms, quiet again {after['median_ms']:.2f} /"
        f" {after['p99_ms']:.2f} ms",
        f"a follower's CPU per update: {match['follower_cpu_ms_per_update']:.2f} ms",
        "memory per replica (RSS / PSS / peak RSS): "
        + ", ".join(
            f"{m['rss_mib']:.0f} / {m['pss_mib']:.0f} / {m['peak_rss_mib']:.0f} MiB" for m in memory
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Measures, writes replication.json and prints the table."""
    args = parse_args(argv)
    results = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "replication.json").write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
