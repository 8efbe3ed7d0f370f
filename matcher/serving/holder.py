"""The catalogue serving now, and hot reloads that swap in a new one only when its feed passes.

A reload reads and indexes the new feed off to the side while the old catalogue keeps
serving, then swaps one reference. A request that already holds the old catalogue finishes
on it; the next request sees the new one. A refused feed changes nothing but the record of
the last refusal. Real-time updates (kept in the journal, matcher/serving/journal.py) are
swapped in the same way, one supplier at a time, and re-applied to each new batch older than them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from matcher import metrics
from matcher.engine.catalog import Catalog
from matcher.errors import (
    FailedPrecondition,
    FeedError,
    FeedRejected,
    NotFound,
    Reason,
    Unavailable,
)
from matcher.feeds import Feed, load_feed
from matcher.instants import utc_now
from matcher.model import Availability, Update
from matcher.serving.journal import Journal

log = logging.getLogger("matcher.reload")


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
    max_rejected_share: float  # the share of bad records a feed may leave out


def applied(catalog: Catalog, updates: Iterable[Update]) -> Catalog:
    """The catalogue with each update in turn; updates for suppliers it lacks are skipped."""
    changed: dict[str, Availability] = {}
    for change in updates:
        if change.supplier_id not in changed:
            try:
                changed[change.supplier_id] = catalog.supplier(change.supplier_id).availability
            except NotFound:
                log.warning("update %s: supplier no longer listed, skipped", change.update_id)
                continue
        availability = changed[change.supplier_id]
        overrides = (*availability.overrides, change.override)
        changed[change.supplier_id] = replace(availability, overrides=overrides)
    return catalog.with_availability(changed) if changed else catalog


def build(
    path: Path,
    *,
    max_rejected_share: float,
    clock: Callable[[], datetime],
    journal: Journal | None = None,
) -> Snapshot:
    """Loads a feed, indexes its catalogue and applies the journal's updates newer than it.

    Raises FeedRejected if the feed is refused.
    """
    started = time.perf_counter()
    feed = load_feed(path, max_rejected_share=max_rejected_share)
    catalog = Catalog(feed.suppliers)
    if journal is not None:
        catalog = applied(catalog, journal.since(feed.generated_at))
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
        journal: Journal | None = None,
        load: bool = True,
    ) -> None:
        """Loads the feed at ``path`` and replays ``journal``; FeedRejected if it cannot.

        With ``load=False`` nothing is read yet: every read raises Unavailable until the first
        ``reload`` (so a server can answer health checks while a large feed loads).
        """
        self.path = path
        self.max_rejected_share = max_rejected_share
        self._clock = clock
        self._journal = journal
        self._changing = threading.Lock()  # one reload or update at a time
        self._loaded: Snapshot | None = None
        self._refusal: Refusal | None = None
        if load:
            self.reload()

    @property
    def _snapshot(self) -> Snapshot:
        """The snapshot serving now; Unavailable before the first load."""
        if self._loaded is None:
            raise Unavailable(
                "the supplier feed is still loading; retry shortly", reason=Reason.FEED_LOADING
            )
        return self._loaded

    def _build(self) -> Snapshot:
        """A snapshot of the feed as it is now on disk, with the updates newer than it."""
        started = time.perf_counter()
        try:
            fresh = build(
                self.path,
                max_rejected_share=self.max_rejected_share,
                clock=self._clock,
                journal=self._journal,
            )
        except FeedRejected:
            metrics.load_finished(refused=True, seconds=time.perf_counter() - started)
            raise
        metrics.load_finished(refused=False, seconds=fresh.load_seconds)
        return fresh

    def current(self) -> Catalog:
        """The catalogue serving now."""
        return self._snapshot.catalog

    def status(self) -> FeedStatus:
        """The serving snapshot and the last refusal since it was loaded."""
        return FeedStatus(
            serving=self._snapshot,
            last_refusal=self._refusal,
            max_rejected_share=self.max_rejected_share,
        )

    def reload(self) -> Snapshot:
        """Re-reads the feed and swaps it in; raises FeedRejected and keeps the old one if refused.

        Reloads and updates run one at a time; a second caller waits for the first to finish.
        """
        with self._changing:
            try:
                fresh = self._build()
            except FeedRejected as exc:
                self._refusal = Refusal(
                    at=self._clock(), path=exc.path, summary=exc.summary, errors=tuple(exc.errors)
                )
                raise
            self._loaded = fresh
            self._refusal = None
            _served(fresh)
            return fresh

    def update(self, change: Update) -> Update:
        """Makes a real-time update durable, then serves it; returns it as first recorded.

        A retry of an update already recorded changes nothing. Raises NotFound for an unknown
        supplier and FailedPrecondition when no journal is configured.
        """
        if self._journal is None:
            raise FailedPrecondition(
                "real-time updates need a journal: start with --journal",
                reason=Reason.UPDATES_DISABLED,
            )
        with self._changing:
            self._snapshot.catalog.supplier(change.supplier_id)
            recorded = self._journal.record(change)
            if recorded is change:
                catalog = applied(self._snapshot.catalog, [change])
                self._loaded = replace(self._snapshot, catalog=catalog)
                metrics.update_applied(accepted_at=change.received_at, now=self._clock())
            return recorded


def _served(snapshot: Snapshot) -> None:
    """Tells the metrics which feed serves now."""
    metrics.feed_served(suppliers=len(snapshot.catalog), generated_at=snapshot.feed.generated_at)


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
