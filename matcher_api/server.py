"""matcher-server: loads the feed once, then serves gRPC until interrupted; the wiring of it all."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import sqlite3
import sys
import threading
from datetime import timedelta
from pathlib import Path

import grpc

from matcher.auth import Keyring, load_keys, parse_keys
from matcher.errors import FeedRejected, GeoipDatabaseError
from matcher.geo.geoip import DatabaseInfo, GeoipResolver
from matcher.geo.timezones import TimezoneResolver
from matcher.instants import utc_now
from matcher.paging import PageTokens
from matcher.service import Administration, Matching
from matcher.serving.holder import CatalogHolder, reload_and_log
from matcher.serving.journal import Journal
from matcher.settings import Settings, parse_settings
from matcher_api import jsonlog, observability
from matcher_api.app import create_server
from matcher_api.edge import Edge, connection_options, tls
from matcher_api.health import Health
from matcher_api.workers import fork_workers, supervise

DESCRIPTION = """\
Serves the matcher gRPC API (matcher.v1.MatcherService, FeedAdmin, health, reflection) from a
supplier feed loaded at start-up. Health answers NOT_SERVING until the feed is loaded."""
#: The sample feed: inside the installed wheel (setup.py puts it there), else in the checkout.
BUNDLED_FEED = Path(__file__).resolve().parent / "sample" / "suppliers.jsonl"
CHECKOUT_FEED = Path(__file__).resolve().parent.parent / "data" / "suppliers.jsonl"
log = logging.getLogger("matcher.server")


def sample_feed() -> Path:
    """The feed served when --feed is unset: fake suppliers, for trying the service out."""
    return BUNDLED_FEED if BUNDLED_FEED.is_file() else CHECKOUT_FEED


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
        retry_after=timedelta(seconds=settings.busy_retry_seconds),
        connection=connection_options(settings),
    )


def page_tokens(settings: Settings) -> PageTokens:
    """The page-token signer: a configured secret, so that several processes agree, or random."""
    secret = settings.page_token_secret.encode() or secrets.token_bytes(32)
    return PageTokens(secret, ttl=settings.limits.page_token_ttl)


def main(argv: list[str] | None = None) -> int:
    """Loads the feed, serves until SIGINT or SIGTERM (draining in-flight calls); SIGHUP reloads."""
    settings = parse_settings(argv, env=os.environ, description=DESCRIPTION)
    level = logging.getLevelName(settings.log_level.upper())
    if not isinstance(level, int):  # e.g. "verbose"; lower-case names ("info") are accepted
        print(f"matcher: cannot start: unknown log level {settings.log_level!r}", file=sys.stderr)
        return 2
    jsonlog.configure(level)
    try:
        edge = edge_from(settings)
        geoip = open_geoip(settings)
        holder = CatalogHolder(
            settings.feed or sample_feed(),
            max_rejected_share=settings.max_rejected_share,
            journal=Journal(settings.journal) if settings.journal else None,
            load=settings.workers > 1,  # one process loads later, answering health meanwhile
        )
    except (FeedRejected, GeoipDatabaseError, ValueError, OSError, sqlite3.Error) as exc:
        return cannot_start(exc)
    matching = Matching(
        catalog=holder.current,
        resolver=TimezoneResolver(),
        tokens=page_tokens(settings),
        limits=settings.limits,
        clock=utc_now,
        geoip=geoip,
    )
    if settings.workers > 1:
        return serve_forked(
            settings, matching=matching, edge=edge, suppliers=len(holder.current()), geoip=geoip
        )
    return serve(settings, matching=matching, edge=edge, holder=holder, geoip=geoip)


def cannot_start(problem: Exception | str) -> int:
    """Says why the server cannot start, on stderr; the exit status 2."""
    print(f"matcher: cannot start: {problem}", file=sys.stderr)
    return 2


def serve(
    settings: Settings,
    *,
    matching: Matching,
    edge: Edge,
    holder: CatalogHolder,
    geoip: GeoipResolver | None,
) -> int:
    """Binds and answers health (NOT_SERVING), loads the feed, then serves until stopped."""
    health = Health()
    try:
        observed = observability.start(settings)
    except (OSError, ValueError) as exc:  # the metrics address cannot be bound
        return cannot_start(f"metrics address {settings.metrics_address}: {exc}")
    try:
        server, port = create_server(
            settings.address,
            matching=matching,
            max_workers=settings.max_workers,
            reflect=settings.reflection,
            edge=edge,
            administration=Administration(
                holder=holder, limits=settings.limits, clock=utc_now, geoip=geoip
            ),
            health=health,
        )
    except RuntimeError as exc:  # the address cannot be bound
        observed.close()
        return cannot_start(exc)
    server.start()
    warn_if_open(edge, address=settings.address)
    warn_if_sample(settings)
    log.info("listening on port %d, NOT_SERVING until %s is loaded", port, holder.path)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop_loading)
    try:
        holder.reload()
    except FeedRejected as exc:
        server.stop(0)
        observed.close()
        return cannot_start(exc)
    except SystemExit:
        log.info("stopped while loading the feed")
        server.stop(0)
        observed.close()
        return 0
    health.serving()
    log.info("serving %d suppliers from %s on port %d", len(holder.current()), holder.path, port)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: drain(server, grace_seconds=settings.grace_seconds))
    signal.signal(signal.SIGHUP, lambda *_: hang_up(holder, geoip))
    server.wait_for_termination()
    observed.close()
    return 0


def open_geoip(settings: Settings) -> GeoipResolver | None:
    """The configured GeoIP database, opened and checked, or None when there is none."""
    if settings.geoip_db is None:
        return None
    geoip = GeoipResolver(
        path=settings.geoip_db, unstated_accuracy_km=settings.geoip_unstated_accuracy_km
    )
    log_geoip(geoip.info, verb="opened")
    return geoip


def log_geoip(info: DatabaseInfo, *, verb: str) -> None:
    """One line saying which GeoIP database serves now."""
    log.info(
        "%s GeoIP database %s (%s, IPv%d, built %s)",
        verb,
        info.path,
        info.database_type,
        info.ip_version,
        info.built.date().isoformat(),
    )


def hang_up(holder: CatalogHolder, geoip: GeoipResolver | None) -> None:
    """SIGHUP: reloads the feed and the GeoIP database on threads of their own, independently."""
    threading.Thread(target=reload_and_log, args=(holder,), daemon=True).start()
    if geoip is not None:
        threading.Thread(target=reload_geoip_and_log, args=(geoip,), daemon=True).start()


def reload_geoip_and_log(geoip: GeoipResolver) -> None:
    """Reloads the GeoIP database and logs the outcome rather than raising: no caller waits."""
    try:
        info = geoip.reload()
    except GeoipDatabaseError as exc:
        log.error("GeoIP reload refused, still serving the database before: %s", exc)
        return
    log_geoip(info, verb="reloaded")


def _stop_loading(signum: int, frame: object) -> None:
    """SIGTERM or SIGINT before the feed is loaded: nothing to drain, so stop the load at once."""
    raise SystemExit(0)


def warn_if_open(edge: Edge, *, address: str) -> None:
    """Says loudly when the server runs without encryption or without caller tokens."""
    if edge.credentials is None:
        log.warning("PLAINTEXT gRPC on %s: no TLS, for local development only", address)
    if not edge.keyring.enabled:
        log.warning("AUTHENTICATION OFF: no caller keys configured, for local development only")


def warn_if_sample(settings: Settings) -> None:
    """Says loudly when no feed was given and the bundled sample's fake suppliers are served."""
    if settings.feed is None:
        log.warning("SAMPLE FEED: no --feed given, serving made-up suppliers: %s", sample_feed())


def drain(server: grpc.Server, *, grace_seconds: float) -> None:
    """Stops taking calls and lets in-flight ones finish, for at most the grace period."""
    log.info("stopping: draining in-flight calls for up to %g s", grace_seconds)
    server.stop(grace=grace_seconds)


def serve_forked(
    settings: Settings,
    *,
    matching: Matching,
    edge: Edge,
    suppliers: int,
    geoip: GeoipResolver | None,
) -> int:
    """Serves from ``settings.workers`` processes sharing the port, until SIGINT or SIGTERM.

    Each worker holds its own copy of the catalogue, so FeedAdminService and feed reloads are
    off: a new feed means a restart. SIGHUP reaches every worker, which reloads its own GeoIP
    database.
    """
    if settings.address.rsplit(":", 1)[-1] == "0":
        return cannot_start("--workers above 1 needs a fixed port")
    pids = fork_workers(
        settings.address,
        matching=matching,
        edge=edge,
        count=settings.workers,
        max_workers=settings.max_workers,
        reflect=settings.reflection,
        grace_seconds=settings.grace_seconds,
        on_hangup=None if geoip is None else lambda: reload_geoip_and_log(geoip),
        observe=lambda index: observability.start(
            settings, metrics_address=worker_metrics_address(settings.metrics_address, index)
        ),
    )
    warn_if_open(edge, address=settings.address)
    log.info("serving %d suppliers on %s from %d processes", suppliers, settings.address, len(pids))
    return supervise(pids)


def worker_metrics_address(address: str, index: int) -> str:
    """Worker ``index`` (from 0) of ``--workers`` serves its metrics on the port plus its index."""
    if not address:
        return ""
    host, port = observability.host_port(address)
    return f"[{host}]:{port + index}" if ":" in host else f"{host}:{port + index}"


if __name__ == "__main__":
    sys.exit(main())
