"""matcher-server: loads the feed once, then serves gRPC until interrupted; the wiring of it all."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from matcher.auth import Keyring, load_keys, parse_keys
from matcher.errors import FeedRejected, GeoipDatabaseError, Unavailable
from matcher.geo.geoip import GeoipResolver
from matcher.geo.timezones import TimezoneResolver
from matcher.instants import utc_now
from matcher.paging import PageTokens
from matcher.service import Administration, Matching
from matcher.serving.replica import Replica
from matcher.serving.sources import shown
from matcher.serving.store import StoreUnavailable
from matcher.serving.stores import StoreChoice, choose
from matcher.settings import Settings, parse_settings
from matcher_api import jsonlog, observability
from matcher_api.app import create_app
from matcher_api.edge import Edge, connection_options, tls
from matcher_api.health import Health
from matcher_api.workers import Following, fork_workers, hang_up, supervise, this_process

DESCRIPTION = """\
Serves the matcher gRPC API (matcher.v1.MatcherService, FeedAdminService, health, reflection)
from a supplier feed, kept in step with every other process of its store (--journal, --store).
Health answers NOT_SERVING until the feed is loaded and the store's log caught up."""
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
        max_calls_per_caller=settings.max_calls_per_caller,
        auth_failures_per_minute=settings.auth_failures_per_minute,
        stream_threads=settings.stream_threads,
        retry_after=timedelta(seconds=settings.busy_retry_seconds),
        connection=connection_options(settings),
    )


def page_tokens(settings: Settings, replica: Replica) -> PageTokens:
    """The page-token signer: the configured secret, else the one kept in the store, which every
    process of that store shares, so a token issued by one replica works on another."""
    secret = settings.page_token_secret.encode() or replica.page_secret
    return PageTokens(secret, ttl=settings.limits.page_token_ttl)


def main(argv: list[str] | None = None) -> int:
    """Loads the feed, serves until SIGINT or SIGTERM (draining in-flight calls); SIGHUP reloads."""
    settings = parse_settings(argv, env=os.environ, description=DESCRIPTION)
    level = logging.getLevelName(settings.log_level.upper())
    if not isinstance(level, int):  # e.g. "verbose"; lower-case names ("info") are accepted
        print(f"matcher: cannot start: unknown log level {settings.log_level!r}", file=sys.stderr)
        return 2
    jsonlog.configure(level)
    sys.setswitchinterval(settings.switch_interval_ms / 1000)  # before any thread starts
    # The pool logs every failed reconnection; the replica says once, clearly, what it means.
    logging.getLogger("psycopg.pool").setLevel(max(level, logging.ERROR))
    scratch = Path(tempfile.mkdtemp(prefix="matcher-"))
    try:
        return run(settings, scratch=scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run(settings: Settings, *, scratch: Path) -> int:
    """Opens the store, then serves from one process or forks workers; the exit status."""
    try:
        edge = edge_from(settings)
        geoip = open_geoip(settings)
        choice = choose(settings, scratch=scratch)
        store = choice.open()
    except (ValueError, OSError, sqlite3.Error, StoreUnavailable, GeoipDatabaseError) as exc:
        return cannot_start(exc)
    replica = Replica(
        store=store,
        settings=settings,
        source=settings.feed or str(sample_feed()),
        accepts_updates=choice.accepts_updates,
        clock=utc_now,
        who=this_process(),
    )
    matching = Matching(
        catalog=replica.current,
        resolver=TimezoneResolver(),
        tokens=page_tokens(settings, replica),
        limits=settings.limits,
        clock=utc_now,
        geoip=geoip,
    )
    administration = Administration(
        replica=replica, limits=settings.limits, clock=utc_now, geoip=geoip
    )
    if settings.workers > 1:
        return serve_forked(
            settings,
            replica=replica,
            choice=choice,
            matching=matching,
            administration=administration,
            edge=edge,
        )
    return serve(
        settings, matching=matching, edge=edge, replica=replica, administration=administration
    )


def cannot_start(problem: Exception | str) -> int:
    """Says why the server cannot start, on stderr; the exit status 2."""
    print(f"matcher: cannot start: {problem}", file=sys.stderr)
    return 2


def serve(
    settings: Settings,
    *,
    matching: Matching,
    edge: Edge,
    replica: Replica,
    administration: Administration,
) -> int:
    """Binds and answers health (NOT_SERVING), loads the feed and catches up with the store,
    then serves until stopped."""
    health = Health()
    try:
        observed = observability.start(settings)
    except (OSError, ValueError) as exc:  # the metrics address cannot be bound
        return cannot_start(f"metrics address {settings.metrics_address}: {exc}")
    try:
        app = create_app(
            settings.address,
            matching=matching,
            max_workers=settings.max_workers,
            reflect=settings.reflection,
            edge=edge,
            administration=administration,
            health=health,
        )
    except RuntimeError as exc:  # the address cannot be bound
        observed.close()
        return cannot_start(exc)
    app.server.start()
    warn_if_open(edge, address=settings.address)
    warn_if_sample(settings)
    log.info(
        "listening on port %d, NOT_SERVING until %s is loaded and %s caught up",
        app.port,
        shown(settings.feed or str(sample_feed())),
        replica.store_description,
    )
    code = start_replica(replica)
    if code is not None:
        app.server.stop(0)
        observed.close()
        return code
    app.handle_signals()  # before SERVING: from here a SIGTERM drains, never cuts the load short
    health.serving()
    log.info("serving %d suppliers from %s on port %d", *served(replica), app.port)
    replica.follow()
    signal.signal(signal.SIGHUP, lambda *_: hang_up(administration, feed=True))
    app.serve(grace_seconds=settings.grace_seconds)
    replica.stop()
    observed.close()
    return 0


def open_geoip(settings: Settings) -> GeoipResolver | None:
    """The configured GeoIP database, opened and checked, or None when there is none."""
    if settings.geoip_db is None:
        return None
    geoip = GeoipResolver(
        path=settings.geoip_db, unstated_accuracy_km=settings.geoip_unstated_accuracy_km
    )
    log.info("opened GeoIP database %s", geoip.info.summary())
    return geoip


def start_replica(replica: Replica) -> int | None:
    """Loads the feed and catches up with the store, waiting for the store if it must; an exit
    status if the process must stop instead (a refused feed, or SIGTERM meanwhile)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop_loading)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the current feed is loading anyway
    try:
        replica.start()
    except FeedRejected as exc:
        return cannot_start(exc)
    except (SystemExit, Unavailable):
        log.info("stopped while loading the feed")
        return 0
    return None


def served(replica: Replica) -> tuple[int, str]:
    """How many suppliers serve, and from which feed (a URL without its query)."""
    snapshot = replica.snapshot()
    generation = snapshot.generation
    return len(snapshot.catalog), shown(generation.source) if generation else snapshot.feed.path


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


def serve_forked(
    settings: Settings,
    *,
    replica: Replica,
    choice: StoreChoice,
    matching: Matching,
    administration: Administration,
    edge: Edge,
) -> int:
    """Serves from ``settings.workers`` processes sharing the port, until SIGINT or SIGTERM.

    The parent loads the feed and catches up once, then forks: the workers share its catalogue
    copy-on-write, each opens its own store connection and follows the store from there, so a
    reload or an update on any of them reaches all. SIGHUP to the parent reaches every worker:
    the first reloads the feed (the store brings it to the others), each its GeoIP database.
    """
    if settings.address.rsplit(":", 1)[-1] == "0":
        return cannot_start("--workers above 1 needs a fixed port")
    code = start_replica(replica)
    if code is not None:
        return code
    replica.detach()  # each worker opens its own connection after the fork
    pids = fork_workers(
        settings.address,
        matching=matching,
        edge=edge,
        count=settings.workers,
        max_workers=settings.max_workers,
        reflect=settings.reflection,
        grace_seconds=settings.grace_seconds,
        following=Following(replica=replica, open_store=choice.open, administration=administration),
        observe=lambda index: observability.start(
            settings, metrics_address=worker_metrics_address(settings.metrics_address, index)
        ),
    )
    warn_if_open(edge, address=settings.address)
    count, source = served(replica)
    log.info(
        "serving %d suppliers from %s on %s from %d processes",
        count,
        source,
        settings.address,
        len(pids),
    )
    return supervise(pids)


def worker_metrics_address(address: str, index: int) -> str:
    """Worker ``index`` (from 0) of ``--workers`` serves its metrics on the port plus its index."""
    if not address:
        return ""
    host, port = observability.host_port(address)
    return f"[{host}]:{port + index}" if ":" in host else f"{host}:{port + index}"


if __name__ == "__main__":
    sys.exit(main())
