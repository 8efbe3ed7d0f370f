"""One feed size, in a fresh process so its peak memory is its own: load, then every benchmark.

    python -m bench.size --feed bench/.cache/suppliers-10000-seed11.jsonl --queries 500

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import inprocess, peers, profile, served
from bench.measure import peak_rss_mib
from bench.synthetic import user_points
from matcher.engine.catalog import Catalog
from matcher.feeds import load_feed
from matcher.geo.timezones import TimezoneResolver

#: In-process "now": a Monday before the 2027 DST changes, as in the tests.
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
#: Points that only warm up (the first ones); of the rest, one in DST_SHARE also goes through the
#: PostGIS peer on each of its DST weekends.
WARMUP = 50
DST_SHARE = 5
#: Matches profiled for "where the time goes" (cProfile slows them, so not all of them).
PROFILED = 200


def main() -> None:
    """Measures one size and prints the result."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--feed", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--workers", default="1,2", help="server process counts to compare")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per client process")
    parser.add_argument("--seconds", type=float, default=5.0, help="per RPC and worker count")
    parser.add_argument("--warmup", type=float, default=3.0, help="client start-up and warm-up")
    parser.add_argument(
        "--peers", action=argparse.BooleanOptionalAction, default=True, help="PostGIS and Redis"
    )
    args = parser.parse_args()

    start = time.perf_counter()
    feed = load_feed(args.feed)
    loaded = time.perf_counter()
    catalog = Catalog(feed.suppliers)
    built = time.perf_counter()
    memory = peak_rss_mib()

    points = user_points(args.queries + WARMUP)
    resolver = TimezoneResolver()
    result: dict[str, object] = {
        "suppliers": len(catalog),
        "load_feed_s": loaded - start,
        "catalog_s": built - loaded,
        "peak_rss_mib": memory,
        "in_process": inprocess.run(
            catalog, resolver=resolver, points=points[WARMUP:], warmup=points[:WARMUP], now=NOW
        ),
        "served": served.run(
            catalog,
            points=points,
            workers=[int(w) for w in args.workers.split(",")],
            clients=args.clients,
            threads=args.threads,
            seconds=args.seconds,
            warmup=args.warmup,
        ),
    }
    result["profile"] = profile.run(
        catalog, resolver=resolver, points=points[WARMUP : WARMUP + PROFILED], now=NOW
    )
    if args.peers:
        result["peers"] = peers.run(
            catalog,
            resolver=resolver,
            points=points[WARMUP:],
            warmup=points[:WARMUP],
            dst_points=points[WARMUP : WARMUP + max(args.queries // DST_SHARE, 1)],
            now=NOW,
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
