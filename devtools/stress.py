"""`make stress`: the attacks of issue #11 against a real server with TLS and tokens.

Starts matcher-server on a generated feed (100,000 suppliers by default, cached in
bench/.cache/), then, one after the other: an idle baseline; 64 health Watch streams held open
by a caller with no token; 64 expensive Matches kept in flight by one token; 2,000 bad tokens
from one address; random bytes in place of requests; SIGTERM with 32 slow calls in flight. An
ordinary caller (another token, its own process) times Match throughout. Writes every figure
to bench/results/stress.json and prints the table the README quotes.

    python -m devtools.stress [--suppliers 100000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devtools.dev_certs import write_certs
from matcher.auth import digest
from matcher_api.v1 import matcher_pb2 as pb
from matcher_api.v1 import matcher_pb2_grpc as pb_grpc

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
RESULTS = ROOT / "bench" / "results" / "stress.json"
PATIENCE_S = 120.0
#: Calls sent at once on one connection: under the server's --max-concurrent-streams (100).
STREAMS = 90
ORDINARY = pb.MatchRequest(location=pb.Location(point=pb.LatLng(lat=40.71, lng=-74.0)))
#: Expensive but valid: remote care for Nepal at one minute of the night, 31 days, big pages.
EXPENSIVE = pb.MatchRequest(
    location=pb.Location(country_code="NP"),
    local_hours=pb.LocalHours(start="03:00", end="03:01"),
    page_size=100,
    max_slots_per_supplier=100,
)
ORDINARY_ZONE = pb.ResolveTimezoneRequest(location=ORDINARY.location)
#: A few hundred ms of one core each: 32 of them keep the server busy for seconds.
SLOW = pb.MatchRequest(
    location=pb.Location(country_code="NP"),
    local_hours=pb.LocalHours(start="03:00", end="03:01"),
    page_size=20,
)
METHODS = [
    "/matcher.v1.MatcherService/Match",
    "/matcher.v1.MatcherService/ListSlots",
    "/matcher.v1.MatcherService/CheckSlots",
    "/matcher.v1.FeedAdminService/UpdateAvailability",
]


def matcher_stub(channel: grpc.Channel) -> Any:
    """A MatcherService stub (the generated class is untyped)."""
    return pb_grpc.MatcherServiceStub(channel)  # type: ignore[no-untyped-call]


def ended(call: Any) -> str:
    """The status code name a call (a future) ended with, once it has."""
    error = call.exception(timeout=PATIENCE_S)
    return "OK" if error is None else str(error.code().name)


@dataclass(frozen=True)
class Target:
    """How to reach the server: its address, the CA to trust, and the tokens."""

    address: str
    ca: bytes
    tokens: dict[str, str]

    def channel(self, address: str | None = None) -> grpc.Channel:
        """A TLS channel; the certificate names localhost, whatever address is dialled."""
        credentials = grpc.ssl_channel_credentials(root_certificates=self.ca)
        options = [("grpc.ssl_target_name_override", "localhost")]
        return grpc.secure_channel(address or self.address, credentials, options=options)

    def bearer(self, who: str) -> tuple[tuple[str, str], ...]:
        """The authorization header of one of the tokens."""
        return (("authorization", f"Bearer {self.tokens[who]}"),)


@dataclass
class Tally:
    """Status codes and latencies of a series of calls."""

    codes: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)

    def timed(self, call: Callable[[], object]) -> None:
        """Makes one call, counting its code and, if it succeeded, its latency."""
        started = time.perf_counter()
        try:
            call()
        except grpc.RpcError as error:
            self.codes[error.code().name] += 1
            return
        self.codes["OK"] += 1
        self.latencies_ms.append((time.perf_counter() - started) * 1000)

    def summary(self) -> dict[str, Any]:
        """Calls by code, and p50/p99 latency of the successful ones."""
        ordered = sorted(self.latencies_ms)
        p50 = statistics.median(ordered) if ordered else None
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else None
        return {"codes": dict(self.codes), "p50_ms": p50, "p99_ms": p99}


def ordinary_caller(target: Target, seconds: float) -> dict[str, Any]:
    """One caller with its own token making ordinary Matches back to back (its own process)."""
    tally = Tally()
    with target.channel() as channel:
        stub = matcher_stub(channel)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            tally.timed(lambda: stub.Match(ORDINARY, metadata=target.bearer("victim"), timeout=30))
    return tally.summary()


def expensive_caller(target: Target, seconds: float, in_flight: int) -> dict[str, Any]:
    """One token keeping ``in_flight`` expensive Matches going, no pause on refusals."""
    tally, lock = Tally(), threading.Lock()
    deadline = time.monotonic() + seconds

    def loop(stub: pb_grpc.MatcherServiceStub) -> None:
        while time.monotonic() < deadline:
            mine = Tally()
            mine.timed(lambda: stub.Match(EXPENSIVE, metadata=target.bearer("heavy"), timeout=60))
            with lock:
                tally.codes.update(mine.codes)
                tally.latencies_ms.extend(mine.latencies_ms)

    with target.channel() as channel:
        stub = matcher_stub(channel)
        threads = [threading.Thread(target=loop, args=(stub,)) for _ in range(in_flight)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return tally.summary()


@contextmanager
def watch_flood(target: Target, streams: int) -> Iterator[list[int]]:
    """``streams`` health Watch streams without a token, held open for the block."""
    with target.channel() as channel:
        health = health_pb2_grpc.HealthStub(channel)
        watches = [
            health.Watch(health_pb2.HealthCheckRequest(), timeout=600) for _ in range(streams)
        ]
        statuses = [next(w).status for w in watches]
        try:
            yield statuses
        finally:
            for watch in watches:
                watch.cancel()


def auth_flood(target: Target, attempts: int) -> dict[str, Any]:
    """Bad tokens from 127.0.0.1, all at once, then a good token from there and from ::1."""
    port = target.address.rsplit(":", 1)[1]
    codes: Counter[str] = Counter()
    with target.channel(f"127.0.0.1:{port}") as channel:
        stub = matcher_stub(channel)
        started = time.perf_counter()
        for first in range(0, attempts, STREAMS):
            guesses = [
                stub.ResolveTimezone.future(
                    ORDINARY_ZONE,
                    metadata=(("authorization", f"Bearer guess-{secrets.token_hex(8)}"),),
                    timeout=PATIENCE_S,
                )
                for _ in range(first, min(attempts, first + STREAMS))
            ]
            codes.update(ended(guess) for guess in guesses)
        seconds = time.perf_counter() - started
        same = Tally()
        same.timed(lambda: stub.ResolveTimezone(ORDINARY_ZONE, metadata=target.bearer("victim")))
    other = Tally()
    with target.channel() as channel:
        other_stub = matcher_stub(channel)
        good = target.bearer("victim")
        other.timed(lambda: other_stub.ResolveTimezone(ORDINARY_ZONE, metadata=good))
    return {
        "bad_tokens": dict(codes),
        "all_answered_in_s": round(seconds, 2),
        "valid_token_same_address": dict(same.codes),
        "valid_token_other_address": dict(other.codes),
    }


def random_bytes(target: Target, count: int, *, token: bool) -> dict[str, int]:
    """``count`` requests of random bytes to the four methods that take the most input; those
    without a token from 127.0.0.1, whose budget of failed authentications they spend."""
    rng = random.Random(11)
    tally = Tally()
    metadata = target.bearer("ops") if token else ()
    port = target.address.rsplit(":", 1)[1]
    with target.channel(None if token else f"127.0.0.1:{port}") as channel:
        calls = [channel.unary_unary(m, None, None) for m in METHODS]  # bytes in, bytes out
        bodies = [rng.randbytes(rng.randrange(0, 200)) for _ in range(count)]
        # with a token, one at a time (the caller's share would refuse a thousand at once);
        # without, as many at once as one connection carries (past the budget, each refusal
        # takes a second to come)
        step = 1 if token else STREAMS
        for k in range(0, count, step):
            batch = [
                calls[(k + j) % len(calls)].future(body, metadata=metadata, timeout=PATIENCE_S)
                for j, body in enumerate(bodies[k : k + step])
            ]
            tally.codes.update(ended(call) for call in batch)
    return dict(tally.codes)


def shutdown(server: subprocess.Popen[bytes], target: Target, in_flight: int) -> dict[str, Any]:
    """SIGTERM with ``in_flight`` slow calls running and a Watch open: how each call ended."""
    with target.channel() as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(), timeout=600
        )
        before = next(watch).status
        stub = matcher_stub(channel)
        calls = [
            stub.Match.future(SLOW, metadata=target.bearer("victim"), timeout=PATIENCE_S)
            for _ in range(in_flight)
        ]
        time.sleep(1)  # every call has reached the server
        running = sum(not call.done() for call in calls)
        signalled = time.perf_counter()
        server.send_signal(signal.SIGTERM)
        after = next(watch).status
        flipped_ms = (time.perf_counter() - signalled) * 1000
        codes = Counter(ended(call) for call in calls)
        exit_code = server.wait(PATIENCE_S)
    return {
        "in_flight": in_flight,
        "unfinished_at_sigterm": running,
        "codes": dict(codes),
        "health_before": health_pb2.HealthCheckResponse.ServingStatus.Name(before),
        "health_after": health_pb2.HealthCheckResponse.ServingStatus.Name(after),
        "health_flip_ms": round(flipped_ms, 1),
        "exit_code": exit_code,
        "exit_after_s": round(time.perf_counter() - signalled, 2),
    }


def feed_of(suppliers: int) -> Path:
    """The generated feed of that size, made once into bench/.cache/."""
    path = CACHE / f"stress-{suppliers}.jsonl"
    if not path.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "devtools.sample_feed", "--any-size"]
        command += ["--count", str(suppliers), "--out", str(path)]
        subprocess.run(command, check=True, cwd=ROOT)
    return path


@contextmanager
def server_running(
    feed: Path, folder: Path, tokens: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[bytes], Target]]:
    """matcher-server with TLS and the tokens, on a free port of localhost."""
    write_certs(folder)
    keys = ";".join(
        f"{digest(t)} {'match,admin' if who == 'ops' else 'match'}" for who, t in tokens.items()
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (folder / "server.log").open("wb")
    command = [sys.executable, "-m", "matcher_api.server", "--address", f"localhost:{port}"]
    command += ["--feed", str(feed), "--tls-cert", str(folder / "server.pem")]
    command += ["--tls-key", str(folder / "server.key"), "--grace-seconds", "60"]
    command += ["--journal", str(folder / "updates.sqlite")]
    env = {**os.environ, "MATCHER_AUTH_KEYS": keys}
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    # every caller dials ::1 but the two that fail authentication on purpose, which dial
    # 127.0.0.1: the budget of failed authentications is per address
    ca = (folder / "ca.pem").read_bytes()
    target = Target(address=f"[::1]:{port}", ca=ca, tokens=tokens)
    try:
        with target.channel() as channel:  # health answers NOT_SERVING while the feed loads
            health = health_pb2_grpc.HealthStub(channel)
            watch = health.Watch(health_pb2.HealthCheckRequest(), timeout=600, wait_for_ready=True)
            next(s for s in watch if s.status == health_pb2.HealthCheckResponse.SERVING)
            watch.cancel()
        yield server, target
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        log.close()


def run(suppliers: int, seconds: float) -> dict[str, Any]:
    """Every scenario, in order, against one server; the figures."""
    tokens = {who: secrets.token_urlsafe(24) for who in ("victim", "heavy", "ops")}
    feed = feed_of(suppliers)
    context = multiprocessing.get_context("spawn")  # no gRPC state crosses into the callers
    figures: dict[str, Any] = {"suppliers": suppliers, "seconds": seconds}
    with (
        tempfile.TemporaryDirectory(prefix="matcher-stress-") as folder,
        ProcessPoolExecutor(2, mp_context=context) as pool,
        server_running(feed, Path(folder), tokens) as (server, target),
    ):
        pool.submit(ordinary_caller, target, 1.0).result(PATIENCE_S)  # warm up
        figures["idle"] = pool.submit(ordinary_caller, target, seconds).result(PATIENCE_S)
        with watch_flood(target, 64) as statuses:
            figures["watch_flood"] = {
                "streams": len(statuses),
                **pool.submit(ordinary_caller, target, seconds).result(PATIENCE_S),
            }
        heavy = pool.submit(expensive_caller, target, seconds, 64)
        figures["expensive_flood"] = {
            "ordinary": pool.submit(ordinary_caller, target, seconds).result(PATIENCE_S),
            "attack": heavy.result(PATIENCE_S),
        }
        figures["random_bytes"] = {
            "with_token": random_bytes(target, 1000, token=True),
            "without_token": random_bytes(target, 1000, token=False),
        }
        time.sleep(61)  # the address's budget refills: the next attack starts afresh
        figures["auth_flood"] = auth_flood(target, 2000)
        figures["shutdown"] = shutdown(server, target, 32)
    return figures


def table(figures: dict[str, Any]) -> str:
    """The figures as the README's table."""
    idle = figures["idle"]
    rows = [
        ("idle", idle, "—"),
        ("64 Watch streams, no token", figures["watch_flood"], "—"),
        (
            "64 expensive Matches in flight, one token",
            figures["expensive_flood"]["ordinary"],
            _codes(figures["expensive_flood"]["attack"]["codes"]),
        ),
    ]
    lines = [
        "| while | ordinary Match p50 / p99 | vs idle (p50) | ordinary calls by code "
        "| attacker's calls by code |",
        "|---|---:|---:|---|---|",
    ]
    for name, seen, attack in rows:
        p50, p99, base = seen["p50_ms"], seen["p99_ms"], idle["p50_ms"]
        latency = f"{p50:.1f} / {p99:.1f} ms" if p50 and p99 else "—"
        ratio = f"{p50 / base:.2f}x" if p50 and base else "—"
        lines.append(f"| {name} | {latency} | {ratio} | {_codes(seen['codes'])} | {attack} |")
    return "\n".join(lines)


def _codes(codes: dict[str, int]) -> str:
    """Codes as "OK 412, RESOURCE_EXHAUSTED 3"."""
    return ", ".join(
        f"{name} {count:,}" for name, count in sorted(codes.items(), key=lambda x: -x[1])
    )


def promises(figures: dict[str, Any]) -> dict[str, bool]:
    """What issue #11 asked for, each checked against the figures."""
    idle = figures["idle"]["p50_ms"] or float("inf")
    flood, watch = figures["expensive_flood"]["ordinary"], figures["watch_flood"]
    every = [
        figures["idle"]["codes"],
        watch["codes"],
        flood["codes"],
        figures["expensive_flood"]["attack"]["codes"],
        figures["auth_flood"]["bad_tokens"],
        *figures["random_bytes"].values(),
        figures["shutdown"]["codes"],
    ]
    return {
        "ordinary Match within 3x of idle under 64 Watch streams": (watch["p50_ms"] or idle)
        <= 3 * idle,
        "ordinary Match within 3x of idle under 64 expensive calls": (flood["p50_ms"] or idle)
        <= 3 * idle,
        "the ordinary caller was never refused": all(
            set(codes) == {"OK"}
            for codes in (figures["idle"]["codes"], watch["codes"], flood["codes"])
        ),
        "a valid token from another address still works": figures["auth_flood"][
            "valid_token_other_address"
        ]
        == {"OK": 1},
        "SIGTERM: every call in flight finished OK": figures["shutdown"]["codes"]
        == {"OK": figures["shutdown"]["in_flight"]},
        "SIGTERM: health NOT_SERVING, exit 0": figures["shutdown"]["health_after"] == "NOT_SERVING"
        and figures["shutdown"]["exit_code"] == 0,
        "no INTERNAL or UNKNOWN anywhere": not any(
            {"INTERNAL", "UNKNOWN"} & set(codes) for codes in every
        ),
    }


def main() -> None:
    """Parses the sizes, runs every scenario, writes and prints the figures; exits 1 if a
    promise was not kept."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--suppliers", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each timed phase")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    figures = run(args.suppliers, args.seconds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(table(figures))
    print(json.dumps({k: figures[k] for k in ("auth_flood", "random_bytes", "shutdown")}, indent=2))
    kept = promises(figures)
    for promise, held in kept.items():
        print(f"{'PASS' if held else 'FAIL'}: {promise}")
    print(f"{sum(kept.values())} passed, {len(kept) - sum(kept.values())} failed")
    if not all(kept.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
