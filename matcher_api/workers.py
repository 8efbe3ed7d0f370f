"""Several server processes on one port (SO_REUSEPORT), forked after the catalogue is loaded.

Forking after the load shares the catalogue's pages copy-on-write; gc.freeze() first keeps the
collector from writing to every object (and so copying every page) in each worker. gRPC must
not have created a server or channel before the fork: each worker builds its own after it.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import replace

from matcher.service import Matching
from matcher_api.app import create_server
from matcher_api.edge import Edge
from matcher_api.observability import Observability

log = logging.getLogger("matcher.workers")


def fork_workers(
    address: str,
    *,
    matching: Matching,
    count: int,
    max_workers: int,
    reflect: bool,
    grace_seconds: float,
    edge: Edge | None = None,
    on_hangup: Callable[[], None] | None = None,
    observe: Callable[[int], Observability] | None = None,
) -> list[int]:
    """Forks ``count`` processes that each serve ``matching`` on ``address``; returns their pids.

    Each worker first calls ``observe`` with its index (0 to count - 1): its own metrics
    endpoint and gRPC metrics plugin, which must be made after the fork. ``on_hangup`` is what
    each worker runs, on a thread, when SIGHUP reaches it.
    """
    shared = replace(edge or Edge(), reuse_port=True)
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
                    on_hangup=on_hangup,
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
    on_hangup: Callable[[], None] | None = None,
) -> int:
    """One worker's life: serve on the shared port until SIGINT or SIGTERM, then drain."""
    if on_hangup is None:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    else:
        hangup = on_hangup
        signal.signal(
            signal.SIGHUP, lambda *_: threading.Thread(target=hangup, daemon=True).start()
        )
    server, _ = create_server(
        address, matching=matching, max_workers=max_workers, reflect=reflect, edge=edge
    )
    server.start()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: server.stop(grace=grace_seconds))
    server.wait_for_termination()
    return 0


def supervise(pids: list[int]) -> int:
    """Passes SIGINT, SIGTERM and SIGHUP on and waits for every worker; one failing stops the rest.

    Returns the first non-zero exit code, or 0.
    """
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda sig, _: stop(pids, sig))
    running, first = set(pids), 0
    while running:
        pid, status = os.wait()
        running.discard(pid)
        code = os.waitstatus_to_exitcode(status)
        if code and not first:
            first = code
            stop(sorted(running))
    return first


def stop(pids: list[int], signum: int = signal.SIGTERM) -> None:
    """Asks every worker still running to drain and exit (or, with SIGHUP, to reload)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.kill(pid, signum)
