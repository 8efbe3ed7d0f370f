"""The catalogue serving now: swapped whole for a new generation, or for the next log entries.

Every change builds a new catalogue off to the side while the old one keeps serving, then swaps
one reference. A request that already holds the old catalogue finishes on it; the next request
sees the new one. Log entries are applied in sequence order, each exactly once: the snapshot
records the last one it includes.
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
from matcher.errors import FeedRejected, NotFound
from matcher.feeds import Feed, load_feed
from matcher.model import Availability, Update, folded
from matcher.serving.store import Entry, Generation

log = logging.getLogger("matcher.reload")


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """A catalogue, the feed and generation it was built from, and the last entry it includes."""

    catalog: Catalog
    feed: Feed
    loaded_at: datetime
    load_seconds: float  # fetching, reading, checking and indexing the feed
    generation: Generation | None = None  # None until the feed is recorded as a generation
    applied: int = 0  # sequence number of the last log entry included (0: none)


def build(path: Path, *, max_rejected_share: float, clock: Callable[[], datetime]) -> Snapshot:
    """Loads a feed and indexes its catalogue; FeedRejected if the feed is refused."""
    started = time.perf_counter()
    try:
        feed = load_feed(path, max_rejected_share=max_rejected_share)
    except FeedRejected:
        metrics.load_finished(refused=True, seconds=time.perf_counter() - started)
        raise
    snapshot = Snapshot(
        catalog=Catalog(feed.suppliers),
        feed=feed,
        loaded_at=clock(),
        load_seconds=time.perf_counter() - started,
    )
    metrics.load_finished(refused=False, seconds=snapshot.load_seconds)
    return snapshot


def applied(snapshot: Snapshot, entries: Iterable[Entry], *, now: datetime) -> Snapshot:
    """The snapshot with the entries after its last one applied in order.

    An entry at or before the snapshot's last one is skipped (never applied twice); an update
    no newer than the feed is skipped (the feed already tells the truth), and so is one for a
    supplier the feed does not list. Each supplier's overrides stay folded into disjoint
    pieces, however many updates it gets.
    """
    changed: dict[str, Availability] = {}
    last = snapshot.applied
    generated_at = snapshot.feed.generated_at
    for entry in entries:
        if entry.seq <= last:
            continue
        last = entry.seq
        change = entry.update
        if change.received_at <= generated_at:
            continue
        availability = changed.get(change.supplier_id) or _availability(snapshot, change)
        if availability is not None:
            overrides = folded(availability.overrides, change.override, now=now)
            changed[change.supplier_id] = replace(availability, overrides=overrides)
            metrics.update_applied(accepted_at=change.received_at, now=now)
    if last == snapshot.applied:
        return snapshot
    catalog = snapshot.catalog.with_availability(changed) if changed else snapshot.catalog
    return replace(snapshot, catalog=catalog, applied=last)


def _availability(snapshot: Snapshot, change: Update) -> Availability | None:
    """The supplier's availability in the snapshot; None (and a warning) if it is not listed."""
    try:
        return snapshot.catalog.supplier(change.supplier_id).availability
    except NotFound:
        log.warning("update %s: supplier no longer listed, skipped", change.update_id)
        return None


class CatalogHolder:
    """Holds the serving snapshot; ``current`` is what every request calls."""

    def __init__(self, snapshot: Snapshot, *, clock: Callable[[], datetime]) -> None:
        self._snapshot = snapshot
        self._clock = clock
        self._changed = threading.Condition()
        _served(snapshot)

    def current(self) -> Catalog:
        """The catalogue serving now."""
        return self._snapshot.catalog

    def snapshot(self) -> Snapshot:
        """The snapshot serving now."""
        return self._snapshot

    def apply(self, entries: Iterable[Entry]) -> Snapshot:
        """Applies log entries after the serving snapshot's last one and swaps the result in."""
        with self._changed:
            self._snapshot = applied(self._snapshot, entries, now=self._clock())
            self._changed.notify_all()
            return self._snapshot

    def install(self, snapshot: Snapshot) -> None:
        """Swaps in a snapshot of a new generation, already caught up with the log."""
        with self._changed:
            self._snapshot = snapshot
            self._changed.notify_all()
        _served(snapshot)

    def wait_applied(self, seq: int, *, timeout: float) -> bool:
        """Blocks until the serving snapshot includes entry ``seq``; False if ``timeout`` passes."""
        with self._changed:
            return self._changed.wait_for(lambda: self._snapshot.applied >= seq, timeout=timeout)


def _served(snapshot: Snapshot) -> None:
    """Tells the metrics which feed, and which generation of it, serves now."""
    metrics.feed_served(
        suppliers=len(snapshot.catalog),
        generated_at=snapshot.feed.generated_at,
        generation=snapshot.generation.number if snapshot.generation else 0,
    )
