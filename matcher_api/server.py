"""matcher-server: loads the feed once, then serves gRPC until interrupted; the wiring of it all."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import sqlite3
import sys
import threading
from pathlib import Path

import grpc

from matcher.auth import Keyring, load_keys, parse_keys
from matcher.errors import FeedRejected
from matcher.geo.timezones import TimezoneResolver
from matcher.instants import utc_now
from matcher.paging import PageTokens
from matcher.service import Administration, Matching
from matcher.serving.holder import CatalogHolder, reload_and_log
from matcher.serving.journal import Journal
from matcher.settings import Settings, parse_settings
from matcher_api import jsonlog
from matcher_api.app import create_server
from matcher_api.edge import Edge, tls
from matcher_api.workers import fork_workers, supervise

SAMPLE_FEED = Path(__file__).resolve().parent.parent / "data" / "suppliers.jsonl"
log = logging.getLogger("matcher.server")


def edge_from(settings: Settings) -> Edge:
    """The network-facing settings: TLS, caller keys (a file and inline lines) and limits."""
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise ValueError("--tls-cert and --tls-key go together")
    if settings.tls_client_ca and not settings.tls_cert:
        raise ValueError("--tls-client-ca needs --tls-cert and --tls-key")
    keys = load_keys(settings.auth_keys) if settings.auth_keys else ()
    inline = settings.inline_auth_keys.replace(";", "\n")  # one variable, many keys
    credentials = None
    if settings.tls_cert and settings.tls_key:
        credentials = tls(
            cert=settings.tls_cert, key=settings.tls_key, client_ca=settings.tls_client_ca
        )
    return Edge(
        credentials=credentials,
        keyring=Keyring([*keys, *parse_keys(inline, source="MATCHER_AUTH_KEYS")]),
        max_concurrent_rpcs=settings.max_concurrent_rpcs,
    )


def page_tokens(settings: Settings) -> PageTokens:
    """The page-token signer: a configured secret, so that several processes agree, or random."""
    secret = settings.page_token_secret.encode() or secrets.token_bytes(32)
    return PageTokens(secret, ttl=settings.limits.page_token_ttl)


def main(argv: list[str] | None = None) -> int:
    """Loads the feed, serves until SIGINT or SIGTERM (draining in-flight calls); SIGHUP reloads."""
    settings = parse_settings(argv, env=os.environ, description=(__doc__ or "").split(":")[0])
    level = logging.getLevelName(settings.log_level.upper())
    if not isinstance(level, int):  # e.g. "verbose"; lower-case names ("info") are accepted
        print(f"matcher: cannot start: unknown log level {settings.log_level!r}", file=sys.stderr)
        return 2
    jsonlog.configure(level)
    try:
        edge = edge_from(settings)
        holder = CatalogHolder(
            settings.feed or SAMPLE_FEED,
            max_rejected_share=settings.max_rejected_share,
            journal=Journal(settings.journal) if settings.journal else None,
        )
    except (FeedRejected, ValueError, OSError, sqlite3.Error) as exc:
        print(f"matcher: cannot start: {exc}", file=sys.stderr)
        return 2
    matching = Matching(
        catalog=holder.current,
        resolver=TimezoneResolver(),
        tokens=page_tokens(settings),
        limits=settings.limits,
        clock=utc_now,
    )
    if settings.workers > 1:
        return serve_forked(settings, matching=matching, edge=edge, suppliers=len(holder.current()))
    try:
        server, port = create_server(
            settings.address,
            matching=matching,
            max_workers=settings.max_workers,
            reflect=settings.reflection,
            edge=edge,
            administration=Administration(holder=holder, limits=settings.limits, clock=utc_now),
        )
    except RuntimeError as exc:  # the address cannot be bound
        print(f"matcher: cannot start: {exc}", file=sys.stderr)
        return 2
    server.start()
    warn_if_open(edge, address=settings.address)
    log.info("serving %d suppliers from %s on port %d", len(holder.current()), holder.path, port)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: drain(server, grace_seconds=settings.grace_seconds))
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


def drain(server: grpc.Server, *, grace_seconds: float) -> None:
    """Stops taking calls and lets in-flight ones finish, for at most the grace period."""
    log.info("stopping: draining in-flight calls for up to %g s", grace_seconds)
    server.stop(grace=grace_seconds)


def serve_forked(settings: Settings, *, matching: Matching, edge: Edge, suppliers: int) -> int:
    """Serves from ``settings.workers`` processes sharing the port, until SIGINT or SIGTERM.

    Each worker holds its own copy of the catalogue, so FeedAdminService and SIGHUP reloads are off:
    a new feed means a restart.
    """
    if settings.address.rsplit(":", 1)[-1] == "0":
        print("matcher: cannot start: --workers above 1 needs a fixed port", file=sys.stderr)
        return 2
    pids = fork_workers(
        settings.address,
        matching=matching,
        edge=edge,
        count=settings.workers,
        max_workers=settings.max_workers,
        reflect=settings.reflection,
        grace_seconds=settings.grace_seconds,
    )
    warn_if_open(edge, address=settings.address)
    log.info("serving %d suppliers on %s from %d processes", suppliers, settings.address, len(pids))
    return supervise(pids)


if __name__ == "__main__":
    sys.exit(main())
