"""Runs the matcher gRPC server: loads the feed once, then serves until interrupted."""

from __future__ import annotations

import argparse
import logging
import math
import os
import secrets
import signal
import sqlite3
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from matcher.cli import share
from matcher.errors import FeedRejected
from matcher.paging import PageTokens
from matcher.queries import Limits
from matcher.reload import CatalogHolder, reload_and_log
from matcher.timezones import TimezoneResolver
from matcher.updates import Journal
from matcher_api.app import create_server
from matcher_api.servicer import Deps

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
        "--max-rejected-share",
        type=share,
        default=env("MATCHER_MAX_REJECTED_SHARE", "0"),
        help="share of bad records (0 to 1) a feed may leave out and still load; 0 refuses any",
    )
    parser.add_argument(
        "--journal",
        type=Path,
        default=env("MATCHER_JOURNAL"),
        help="SQLite file keeping real-time availability updates; without it they are refused",
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
    """Loads the feed, serves until SIGINT or SIGTERM (draining in-flight calls); SIGHUP reloads."""
    args = parse_args(argv)
    level = logging.getLevelName(args.log_level.upper())
    if not isinstance(level, int):  # e.g. "verbose"; lower-case names ("info") are accepted
        print(f"matcher: cannot start: unknown log level {args.log_level!r}", file=sys.stderr)
        return 2
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        holder = CatalogHolder(
            args.feed,
            max_rejected_share=args.max_rejected_share,
            journal=Journal(args.journal) if args.journal else None,
        )
    except (FeedRejected, sqlite3.Error) as exc:  # a refused feed, or a journal it cannot open
        print(f"matcher: cannot start: {exc}", file=sys.stderr)
        return 2
    deps = Deps(
        catalog=holder.current,
        resolver=TimezoneResolver(),
        tokens=PageTokens(page_token_secret()),
        limits=Limits(cell_km=args.cell_km),
    )
    try:
        server, port = create_server(
            args.address,
            deps=deps,
            max_workers=args.max_workers,
            reflect=not args.no_reflection,
            admin=holder,
        )
    except RuntimeError as exc:  # the address cannot be bound
        print(f"matcher: cannot start: {exc}", file=sys.stderr)
        return 2
    server.start()
    log.warning("plaintext gRPC on %s: for local development only", args.address)
    log.info("serving %d suppliers from %s on port %d", len(holder.current()), args.feed, port)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: server.stop(grace=5))
    signal.signal(
        signal.SIGHUP,
        lambda *_: threading.Thread(target=reload_and_log, args=(holder,), daemon=True).start(),
    )
    server.wait_for_termination()
    return 0


if __name__ == "__main__":
    sys.exit(serve())
