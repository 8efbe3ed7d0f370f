"""Real-time availability updates between feed batches, durable before they are acknowledged.

An update replaces one supplier's slots in a half-open window of instants. It is written to an
SQLite journal (WAL, synchronous FULL) before it is served, replayed at start-up, and kept
across a batch reload only when it is newer than the batch's ``generated_at``. Update ids make
retries safe: the same id with the same content is applied once.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from matcher.catalog import Catalog
from matcher.errors import InvalidArgument, NotFound, UpdateConflict
from matcher.slots import Availability, Override, Slot, Window

log = logging.getLogger("matcher.updates")
MAX_WINDOW = timedelta(days=31)
MAX_ID_LENGTH = 128
SLOT_MINUTES = range(5, 241)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Update:
    """One supplier's slots inside a window, as of when the service received it."""

    update_id: str
    supplier_id: str
    override: Override
    received_at: datetime

    def same_change(self, other: Update) -> bool:
        """Whether two updates change the same thing, whenever they arrived."""
        return (self.supplier_id, self.override) == (other.supplier_id, other.override)


def update(
    *,
    update_id: str,
    supplier_id: str,
    start: datetime | None,
    end: datetime | None,
    slots: Sequence[tuple[datetime | None, int]],
    received_at: datetime,
) -> Update:
    """A checked update; InvalidArgument names the first bad field."""
    if not update_id.strip() or len(update_id) > MAX_ID_LENGTH:
        raise InvalidArgument.of("update_id", f"must be 1 to {MAX_ID_LENGTH} characters")
    if not supplier_id:
        raise InvalidArgument.of("supplier_id", "is required")
    if start is None or end is None:
        raise InvalidArgument.of("window", "needs a start and an end")
    if not start < end <= start + MAX_WINDOW:
        raise InvalidArgument.of(
            "window.end", f"must be after the start, by {MAX_WINDOW.days} days at most"
        )
    window = Window(start=start, end=end)
    found = []
    for k, (slot_start, minutes) in enumerate(slots):
        if slot_start is None or slot_start not in window:
            raise InvalidArgument.of(f"slots[{k}].start", "must be inside the window")
        if minutes not in SLOT_MINUTES:
            raise InvalidArgument.of(f"slots[{k}].minutes", "must be between 5 and 240")
        found.append(Slot(start=slot_start, end=slot_start + timedelta(minutes=minutes)))
    return Update(
        update_id=update_id,
        supplier_id=supplier_id,
        override=Override(window=window, slots=tuple(sorted(set(found)))),
        received_at=received_at,
    )


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


class Journal:
    """Updates in an SQLite database, each committed to disk before ``record`` returns."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS updates (seq INTEGER PRIMARY KEY,"
            " update_id TEXT NOT NULL UNIQUE, received_us INTEGER NOT NULL, body TEXT NOT NULL)"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS by_received ON updates (received_us)")

    def record(self, change: Update) -> Update:
        """The update as first recorded: ``change``, now durable, or an equal one from before.

        Raises UpdateConflict when the id was used for a different change.
        """
        with self._lock:
            row = self._db.execute(
                "SELECT update_id, received_us, body FROM updates WHERE update_id = ?",
                (change.update_id,),
            ).fetchone()
            if row is not None:
                earlier = _decoded(*row)
                if not earlier.same_change(change):
                    raise UpdateConflict(change.update_id)
                return earlier
            with self._db:  # one transaction, committed (and synced) on leaving
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(
                    "INSERT INTO updates (update_id, received_us, body) VALUES (?, ?, ?)",
                    (change.update_id, _micros(change.received_at), _encoded(change)),
                )
            return change

    def since(self, instant: datetime) -> list[Update]:
        """Every update received after an instant, in the order received."""
        with self._lock:
            rows = self._db.execute(
                "SELECT update_id, received_us, body FROM updates"
                " WHERE received_us > ? ORDER BY seq",
                (_micros(instant),),
            ).fetchall()
        return [_decoded(*row) for row in rows]

    def close(self) -> None:
        """Closes the database."""
        self._db.close()


def _micros(instant: datetime) -> int:
    """An aware instant as whole microseconds since the epoch, exactly."""
    return (instant - EPOCH) // MICROSECOND


def _instant(micros: int) -> datetime:
    """Microseconds since the epoch as an aware UTC instant, exactly."""
    return EPOCH + micros * MICROSECOND


def _encoded(change: Update) -> str:
    """What an update changes, as JSON."""
    window = change.override.window
    return json.dumps(
        {
            "supplier_id": change.supplier_id,
            "window": [_micros(window.start), _micros(window.end)],
            "slots": [[_micros(s.start), _micros(s.end)] for s in change.override.slots],
        }
    )


def _decoded(update_id: str, received_us: int, body: str) -> Update:
    """An update as the journal holds it."""
    data = json.loads(body)
    start, end = data["window"]
    return Update(
        update_id=update_id,
        supplier_id=data["supplier_id"],
        override=Override(
            window=Window(start=_instant(start), end=_instant(end)),
            slots=tuple(Slot(start=_instant(a), end=_instant(b)) for a, b in data["slots"]),
        ),
        received_at=_instant(received_us),
    )
