"""Several server processes on one port (SO_REUSEPORT), forked after the catalogue is loaded.

Forking after the load shares the catalogue's pages copy-on-write; gc.freeze() first keeps the
collector from writing to every object (and so copying every page) in each worker. gRPC must
not have created a server or channel before the fork, nor the store a connection: each worker
opens its own after it, follows the store from the parent's snapshot, and says SERVING once it
has caught up. SIGHUP to the parent reaches every worker: the first reloads the feed (the store
brings the new generation to the others), each reloads its own GeoIP database.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from matcher.service import Administration, Matching
from matcher.serving.replica import Replica
from matcher.serving.store import Store
from matcher_api.app import ServicerFactory, create_app
from matcher_api.edge import Edge
from matcher_api.health import Health
from matcher_api.observability import Observability
from matcher_api.servicer import MatcherServicer

log = logging.getLogger("matcher.workers")


@dataclass(frozen=True)
class Following:
    """What a worker needs to follow the store: the parent's replica, how to open its own
    store connection, and the operator's use cases over them."""

    replica: Replica
    open_store: Callable[[], Store]
    administration: Administration


def fork_workers(
    address: str,
    *,
    matching: Matching,
    count: int,
    max_workers: int,
    reflect: bool,
    grace_seconds: float,
    edge: Edge | None = None,
    servicer: ServicerFactory = MatcherServicer,
    following: Following | None = None,
    observe: Callable[[int], Observability] | None = None,
) -> list[int]:
    """Forks ``count`` processes that each serve ``matching`` on ``address``; returns their pids.

    With ``following``, each worker follows the store and offers FeedAdminService. Each worker
    first calls ``observe`` with its index (0 to count - 1): its own metrics endpoint and gRPC
    metrics plugin, which must be made after the fork.
    """
    shared = replace(edge or Edge(), reuse_port=True)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until each worker (and supervise) sets its own
    gc.freeze()
    pids = []
    for index in range(count):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                if observe is not None:
                    observe(index)
                code = serve_worker(
                    address,
                    matching=matching,
                    edge=shared,
                    max_workers=max_workers,
                    reflect=reflect,
                    grace_seconds=grace_seconds,
                    servicer=servicer,
                    following=following,
                    reloads_feed=index == 0,
                )
            except Exception:
                log.exception("worker %d failed", os.getpid())
            finally:
                os._exit(code)
        pids.append(pid)
    return pids


def serve_worker(
    address: str,
    *,
    matching: Matching,
    edge: Edge,
    max_workers: int,
    reflect: bool,
    grace_seconds: float,
    servicer: ServicerFactory = MatcherServicer,
    following: Following | None = None,
    reloads_feed: bool = False,
) -> int:
    """One worker's life: serve on the shared port until SIGINT or SIGTERM, then drain; on
    SIGHUP, reload (the feed only in the worker that ``reloads_feed``)."""
    health = Health(serving=following is None)
    if following is not None:
        following.replica.attach(following.open_store(), who=this_process())
    app = create_app(
        address,
        matching=matching,
        max_workers=max_workers,
        reflect=reflect,
        edge=edge,
        servicer=servicer,
        administration=following.administration if following else None,
        health=health,
    )
    app.handle_signals()
    app.server.start()
    if following is not None:
        following.replica.follow(on_ready=health.serving)
        administration = following.administration
        signal.signal(signal.SIGHUP, lambda *_: hang_up(administration, feed=reloads_feed))
    app.serve(grace_seconds=grace_seconds)
    if following is not None:
        following.replica.stop()
    return 0


def this_process() -> str:
    """This process as generations and the status name it: host and pid."""
    return f"{socket.gethostname()} pid {os.getpid()}"


def hang_up(administration: Administration, *, feed: bool) -> None:
    """SIGHUP: reloads the feed (when ``feed``) and the GeoIP database, each on a thread of its
    own and independently: a signal handler must not wait for a load, nor one reload for the
    other."""
    if feed:
        threading.Thread(
            target=administration.reload_logged, kwargs={"how": "SIGHUP to"}, daemon=True
        ).start()
    threading.Thread(target=administration.reload_geoip_logged, daemon=True).start()


def supervise(pids: list[int]) -> int:
    """Passes SIGINT, SIGTERM and SIGHUP on to every worker and waits for them all; one failing
    stops the rest.

    Returns the first non-zero exit code, or 0.
    """
    running, first = set(pids), 0
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda sig, _: stop(pids, sig))
    # Each worker reloads its GeoIP database; the first also the feed, which the store brings to
    # the others.
    signal.signal(signal.SIGHUP, lambda *_: stop(sorted(running), signal.SIGHUP))
    while running:
        pid, status = os.wait()
        running.discard(pid)
        code = os.waitstatus_to_exitcode(status)
        if code and not first:
            first = code
            stop(sorted(running))
    return first


def stop(pids: list[int], signum: int = signal.SIGTERM) -> None:
    """Sends a signal (by default, drain and exit) to every worker still running."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.kill(pid, signum)
