"""Runs the matcher gRPC server: loads the feed once, then serves until interrupted."""

from __future__ import annotations

import argparse
import logging
import math
import os
import secrets
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from matcher.catalog import Catalog
from matcher.feeds import FeedRejected, load_feed
from matcher.paging import PageTokens
from matcher.queries import Limits
from matcher.timezones import TimezoneResolver
from matcher_api.app import create_server
from matcher_api.servicer import Deps
from matcher_api.workers import fork_workers, supervise

HERE = Path(__file__).resolve().parent
log = logging.getLogger("matcher.server")
T = TypeVar("T", int, float)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; each falls back to a MATCHER_* environment variable."""
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--address", default=env("MATCHER_ADDRESS", "localhost:50051"))
    parser.add_argument(
        "--feed",
        type=Path,
        default=Path(env("MATCHER_FEED", str(HERE / "data" / "suppliers.jsonl"))),
    )
    parser.add_argument(
        "--cell-km",
        type=positive(float),
        default=env("MATCHER_CELL_KM", "1.0"),  # a string default goes through type= too
        help="size of the grid every incoming location is snapped to",
    )
    parser.add_argument(
        "--max-workers", type=positive(int), default=env("MATCHER_MAX_WORKERS", "16")
    )
    parser.add_argument(
        "--workers",
        type=positive(int),
        default=env("MATCHER_WORKERS", "1"),
        help="server processes sharing the port (SO_REUSEPORT), forked after the feed loads",
    )
    parser.add_argument("--no-reflection", action="store_true", help="switch server reflection off")
    parser.add_argument("--log-level", default=env("MATCHER_LOG_LEVEL", "INFO"))
    return parser.parse_args(argv)


def positive(kind: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type: a finite number above zero, so a bad flag or variable fails at start."""

    def parse(text: str) -> T:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"must be above zero: {text!r}")
        return value

    parse.__name__ = kind.__name__
    return parse


def page_token_secret() -> bytes:
    """The page-token key: from the environment, so that several processes agree, or random."""
    configured = os.environ.get("MATCHER_PAGE_TOKEN_SECRET")
    return configured.encode() if configured else secrets.token_bytes(32)


def serve(argv: list[str] | None = None) -> int:
    """Loads the feed, serves until SIGINT or SIGTERM, then drains in-flight calls."""
    args = parse_args(argv)
    level = logging.getLevelName(args.log_level.upper())
    if not isinstance(level, int):  # e.g. "verbose"; lower-case names ("info") are accepted
        print(f"matcher: cannot start: unknown log level {args.log_level!r}", file=sys.stderr)
        return 2
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        feed = load_feed(args.feed)
    except FeedRejected as exc:
        print(f"matcher: cannot start: {exc}", file=sys.stderr)
        return 2
    catalog = Catalog(feed.suppliers)
    deps = Deps(
        catalog=lambda: catalog,
        resolver=TimezoneResolver(),
        tokens=PageTokens(page_token_secret()),
        limits=Limits(cell_km=args.cell_km),
    )
    if args.workers > 1:
        return serve_forked(args, deps=deps, suppliers=len(catalog))
    try:
        server, port = create_server(
            args.address, deps=deps, max_workers=args.max_workers, reflect=not args.no_reflection
        )
    except RuntimeError as exc:  # the address cannot be bound
        print(f"matcher: cannot start: {exc}", file=sys.stderr)
        return 2
    server.start()
    log.warning("plaintext gRPC on %s: for local development only", args.address)
    log.info("serving %d suppliers from %s on port %d", len(catalog), feed.path, port)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: server.stop(grace=5))
    server.wait_for_termination()
    return 0


def serve_forked(args: argparse.Namespace, *, deps: Deps, suppliers: int) -> int:
    """Serves from ``args.workers`` processes sharing the port, until SIGINT or SIGTERM."""
    if args.address.rsplit(":", 1)[-1] == "0":
        print("matcher: cannot start: --workers above 1 needs a fixed port", file=sys.stderr)
        return 2
    pids = fork_workers(
        args.address,
        deps=deps,
        count=args.workers,
        max_workers=args.max_workers,
        reflect=not args.no_reflection,
    )
    log.warning("plaintext gRPC on %s: for local development only", args.address)
    log.info("serving %d suppliers on %s from %d processes", suppliers, args.address, len(pids))
    return supervise(pids)


if __name__ == "__main__":
    sys.exit(serve())
