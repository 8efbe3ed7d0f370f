"""The catalogue serving now, and hot reloads that swap in a new one only when its feed passes.

A reload reads and indexes the new feed off to the side while the old catalogue keeps
serving, then swaps one reference. A request that already holds the old catalogue finishes
on it; the next request sees the new one. A refused feed changes nothing but the record of
the last refusal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from matcher.catalog import Catalog
from matcher.errors import FeedError, FeedRejected
from matcher.feeds import Feed, load_feed

log = logging.getLogger("matcher.reload")


def utc_now() -> datetime:
    """The current instant."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Snapshot:
    """A catalogue and the feed it was built from."""

    catalog: Catalog
    feed: Feed
    loaded_at: datetime
    load_seconds: float  # reading, checking and indexing the feed


@dataclass(frozen=True)
class Refusal:
    """A reload that was refused, and why."""

    at: datetime
    path: str
    summary: str
    errors: tuple[FeedError, ...]


@dataclass(frozen=True)
class FeedStatus:
    """What is serving, and the last reload that was refused since then (if any)."""

    serving: Snapshot
    last_refusal: Refusal | None


def build(path: Path, *, max_rejected_share: float, clock: Callable[[], datetime]) -> Snapshot:
    """Loads a feed and indexes its catalogue; raises FeedRejected if the feed is refused."""
    started = time.perf_counter()
    feed = load_feed(path, max_rejected_share=max_rejected_share)
    catalog = Catalog(feed.suppliers)
    return Snapshot(
        catalog=catalog,
        feed=feed,
        loaded_at=clock(),
        load_seconds=time.perf_counter() - started,
    )


class CatalogHolder:
    """Holds the serving snapshot; ``current`` is what every request calls."""

    def __init__(
        self,
        path: Path,
        *,
        max_rejected_share: float = 0.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """Loads the feed at ``path`` once; raises FeedRejected if it cannot serve."""
        self.path = path
        self.max_rejected_share = max_rejected_share
        self._clock = clock
        self._reloading = threading.Lock()
        self._snapshot = build(path, max_rejected_share=max_rejected_share, clock=clock)
        self._refusal: Refusal | None = None

    def current(self) -> Catalog:
        """The catalogue serving now."""
        return self._snapshot.catalog

    def status(self) -> FeedStatus:
        """The serving snapshot and the last refusal since it was loaded."""
        return FeedStatus(serving=self._snapshot, last_refusal=self._refusal)

    def reload(self) -> Snapshot:
        """Re-reads the feed and swaps it in; raises FeedRejected and keeps the old one if refused.

        Reloads run one at a time; a second caller waits for the first to finish.
        """
        with self._reloading:
            try:
                fresh = build(
                    self.path, max_rejected_share=self.max_rejected_share, clock=self._clock
                )
            except FeedRejected as exc:
                self._refusal = Refusal(
                    at=self._clock(), path=exc.path, summary=exc.summary, errors=tuple(exc.errors)
                )
                raise
            self._snapshot = fresh
            self._refusal = None
            return fresh


def reload_and_log(holder: CatalogHolder) -> None:
    """Reloads and logs the outcome rather than raising: for SIGHUP, where no caller waits."""
    try:
        fresh = holder.reload()
    except FeedRejected as exc:
        log.error("reload refused, still serving the previous feed: %s", exc)
        return
    log.info(
        "reloaded %d suppliers from %s in %.1f s",
        len(fresh.catalog),
        fresh.feed.path,
        fresh.load_seconds,
    )
