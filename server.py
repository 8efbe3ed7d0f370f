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

import grpc

from matcher.auth import Keyring, load_keys, parse_keys
from matcher.cli import share
from matcher.errors import FeedRejected
from matcher.paging import PageTokens
from matcher.queries import Limits
from matcher.reload import CatalogHolder, reload_and_log
from matcher.timezones import TimezoneResolver
from matcher.updates import Journal
from matcher_api import jsonlog
from matcher_api.app import create_server
from matcher_api.edge import Edge, tls
from matcher_api.servicer import Deps
from matcher_api.workers import fork_workers, supervise

HERE = Path(__file__).resolve().parent
log = logging.getLogger("matcher.server")
T = TypeVar("T", int, float)
GRACE_SECONDS = 5


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
    parser.add_argument(
        "--workers",
        type=positive(int),
        default=env("MATCHER_WORKERS", "1"),
        help="server processes sharing the port (SO_REUSEPORT), forked after the feed loads",
    )
    parser.add_argument("--no-reflection", action="store_true", help="switch server reflection off")
    parser.add_argument("--log-level", default=env("MATCHER_LOG_LEVEL", "INFO"))
    add_edge_arguments(parser)
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


def add_edge_arguments(parser: argparse.ArgumentParser) -> None:
    """Options for TLS, caller tokens and load limits (README: Running with TLS and tokens)."""
    env = os.environ.get
    for flag, variable, help_text in (
        ("--tls-cert", "MATCHER_TLS_CERT", "PEM certificate chain; with --tls-key, serve TLS"),
        ("--tls-key", "MATCHER_TLS_KEY", "PEM private key of --tls-cert"),
        ("--tls-client-ca", "MATCHER_TLS_CLIENT_CA", "PEM CA that must sign callers' certs (mTLS)"),
        ("--auth-keys", "MATCHER_AUTH_KEYS_FILE", "keys file: python -m matcher.auth hash"),
    ):
        parser.add_argument(flag, type=Path, default=env(variable), help=help_text)
    parser.add_argument(
        "--max-concurrent-rpcs",
        type=positive(int),
        default=env("MATCHER_MAX_CONCURRENT_RPCS", "64"),
        help="calls beyond this many at once get RESOURCE_EXHAUSTED instead of queueing",
    )


def edge_from(args: argparse.Namespace) -> Edge:
    """The network-facing settings the options ask for; MATCHER_AUTH_KEYS adds inline keys."""
    if (args.tls_cert is None) != (args.tls_key is None):
        raise ValueError("--tls-cert and --tls-key go together")
    if args.tls_client_ca and not args.tls_cert:
        raise ValueError("--tls-client-ca needs --tls-cert and --tls-key")
    keys = load_keys(args.auth_keys) if args.auth_keys else ()
    inline = os.environ.get("MATCHER_AUTH_KEYS", "").replace(";", "\n")  # one variable, many keys
    return Edge(
        credentials=tls(cert=args.tls_cert, key=args.tls_key, client_ca=args.tls_client_ca)
        if args.tls_cert
        else None,
        keyring=Keyring([*keys, *parse_keys(inline, source="MATCHER_AUTH_KEYS")]),
        max_concurrent_rpcs=args.max_concurrent_rpcs,
    )


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
    jsonlog.configure(level)
    try:
        edge = edge_from(args)
        holder = CatalogHolder(
            args.feed,
            max_rejected_share=args.max_rejected_share,
            journal=Journal(args.journal) if args.journal else None,
        )
    except (FeedRejected, ValueError, OSError, sqlite3.Error) as exc:
        print(f"matcher: cannot start: {exc}", file=sys.stderr)
        return 2
    deps = Deps(
        catalog=holder.current,
        resolver=TimezoneResolver(),
        tokens=PageTokens(page_token_secret()),
        limits=Limits(cell_km=args.cell_km),
    )
    if args.workers > 1:
        return serve_forked(args, deps=deps, edge=edge, suppliers=len(holder.current()))
    try:
        server, port = create_server(
            args.address,
            deps=deps,
            max_workers=args.max_workers,
            reflect=not args.no_reflection,
            edge=edge,
            admin=holder,
        )
    except RuntimeError as exc:  # the address cannot be bound
        print(f"matcher: cannot start: {exc}", file=sys.stderr)
        return 2
    server.start()
    warn_if_open(edge, address=args.address)
    log.info("serving %d suppliers from %s on port %d", len(holder.current()), args.feed, port)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: drain(server))
    signal.signal(
        signal.SIGHUP,
        lambda *_: threading.Thread(target=reload_and_log, args=(holder,), daemon=True).start(),
    )
    server.wait_for_termination()
    return 0


def warn_if_open(edge: Edge, *, address: str) -> None:
    """Says loudly when the server runs without encryption or without caller tokens."""
    if edge.credentials is None:
        log.warning("PLAINTEXT gRPC on %s: no TLS, for local development only", address)
    if not edge.keyring.enabled:
        log.warning("AUTHENTICATION OFF: no caller keys configured, for local development only")


def drain(server: grpc.Server) -> None:
    """Stops taking calls and lets in-flight ones finish, for at most the grace period."""
    log.info("stopping: draining in-flight calls for up to %d s", GRACE_SECONDS)
    server.stop(grace=GRACE_SECONDS)


def serve_forked(args: argparse.Namespace, *, deps: Deps, edge: Edge, suppliers: int) -> int:
    """Serves from ``args.workers`` processes sharing the port, until SIGINT or SIGTERM.

    Each worker holds its own copy of the catalogue, so FeedAdmin and SIGHUP reloads are off:
    a new feed means a restart.
    """
    if args.address.rsplit(":", 1)[-1] == "0":
        print("matcher: cannot start: --workers above 1 needs a fixed port", file=sys.stderr)
        return 2
    pids = fork_workers(
        args.address,
        deps=deps,
        edge=edge,
        count=args.workers,
        max_workers=args.max_workers,
        reflect=not args.no_reflection,
    )
    warn_if_open(edge, address=args.address)
    log.info("serving %d suppliers on %s from %d processes", suppliers, args.address, len(pids))
    return supervise(pids)


if __name__ == "__main__":
    sys.exit(serve())
