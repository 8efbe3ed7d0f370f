"""Runs the benchmarks at each feed size, writes bench/results/results.json and draws the plot.

    python -m bench --sizes 10000,100000,1000000 --queries 1000 --out bench/results/

Each size runs in a fresh process (python -m bench.size) so its peak memory is its own; feeds
are generated once into --cache.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

from bench import profile, report, synthetic

HERE = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="10000,100000,1000000", help="suppliers, comma-separated"
    )
    parser.add_argument("--queries", type=int, default=1000, help="in-process queries per size")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--cache", type=Path, default=HERE / ".cache", help="generated feeds")
    parser.add_argument("--workers", default="1,2", help="server process counts to compare")
    parser.add_argument("--clients", type=int, default=2, help="load client processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per client process")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured per RPC and workers")
    parser.add_argument("--warmup", type=float, default=3.0, help="client start-up and warm-up")
    parser.add_argument(
        "--peers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="PostGIS and Redis beside Match (throwaway servers from `make system`)",
    )
    parser.add_argument(
        "--replication",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure replicas on one PostgreSQL (bench.replication)",
    )
    return parser.parse_args(argv)


def measure(feed: Path, args: argparse.Namespace) -> dict[str, object]:
    """One size's results, from a fresh process."""
    command = [sys.executable, "-m", "bench.size", "--feed", str(feed)]
    for name in ("queries", "workers", "clients", "threads", "seconds", "warmup"):
        command += [f"--{name}", str(getattr(args, name))]
    command.append("--peers" if args.peers else "--no-peers")
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, cwd=HERE.parent)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> None:
    """Measures every size, then writes the JSON and the plot."""
    args = parse_args(argv)
    started = time.time()
    sizes = []
    for size in (int(s) for s in args.sizes.split(",")):
        feed = synthetic.feed(size, cache=args.cache)
        print(f"bench: {size:,} suppliers ...", file=sys.stderr, flush=True)
        sizes.append(measure(feed, args))
    results = {
        "command": shlex.join(["python", "-m", "bench", *(argv or sys.argv[1:])]),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "runtime_s": time.time() - started,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "sizes": sizes,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    report.plot(results, args.out / "bench.png")
    print(report.table(results))
    largest = results["sizes"][-1]
    print(f"\nWhere a served Match's time goes at {largest['suppliers']:,} suppliers:\n")
    print(profile.table(largest["profile"]))
    if args.replication:  # its own process: it starts PostgreSQL and three servers
        print("bench: replicas on one PostgreSQL ...", file=sys.stderr, flush=True)
        command = [sys.executable, "-m", "bench.replication", "--out", str(args.out)]
        subprocess.run([*command, "--cache", str(args.cache)], check=True, cwd=HERE.parent)


if __name__ == "__main__":
    main()
