"""The journal of real-time updates: each durable in SQLite before it is acknowledged.

An update is written to an SQLite journal (WAL, synchronous FULL) before it is served, replayed
at start-up, and kept across a batch reload only when it is newer than the batch's
``generated_at``. Update ids make retries safe: the same id with the same content is recorded once.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime
from pathlib import Path

from matcher.errors import UpdateConflict
from matcher.instants import from_micros, to_micros
from matcher.model import Override, Slot, Update, Window


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
                    (change.update_id, to_micros(change.received_at), _encoded(change)),
                )
            return change

    def since(self, instant: datetime) -> list[Update]:
        """Every update received after an instant, in the order received."""
        with self._lock:
            rows = self._db.execute(
                "SELECT update_id, received_us, body FROM updates"
                " WHERE received_us > ? ORDER BY seq",
                (to_micros(instant),),
            ).fetchall()
        return [_decoded(*row) for row in rows]

    def close(self) -> None:
        """Closes the database."""
        self._db.close()


def _encoded(change: Update) -> str:
    """What an update changes, as JSON."""
    window = change.override.window
    return json.dumps(
        {
            "supplier_id": change.supplier_id,
            "window": [to_micros(window.start), to_micros(window.end)],
            "slots": [[to_micros(s.start), to_micros(s.end)] for s in change.override.slots],
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
            window=Window(start=from_micros(start), end=from_micros(end)),
            slots=tuple(Slot(start=from_micros(a), end=from_micros(b)) for a, b in data["slots"]),
        ),
        received_at=from_micros(received_us),
    )
