"""The embedded store: one SQLite file (WAL, synchronous FULL) that every process of one machine
opens, the server's ``--journal``.

Writers take SQLite's write lock for the whole transaction (``BEGIN IMMEDIATE``), so entries
commit in sequence order. Followers learn of another process's commit by polling
``PRAGMA data_version``, which changes whenever another connection commits; this process's own
commits wake them at once. Instants are kept as microseconds since the epoch.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from matcher.errors import UpdateConflict
from matcher.instants import from_micros, to_micros
from matcher.model import Override, Slot, Update, Window
from matcher.serving.store import (
    Entry,
    FeedRecord,
    Generation,
    Head,
    Recorded,
    StoreUnavailable,
    decode,
    encode,
    planned,
    refuse_newer_schema,
)

#: How often a waiting follower looks for another process's commit.
POLL_SECONDS = 0.02
#: How long a writer waits for another process's write lock before giving up.
BUSY_SECONDS = 30.0


@dataclass(frozen=True)
class Migration:
    """One step of the schema: applied once, in order, in one transaction with its version."""

    version: int
    summary: str
    sql: str
    adopt: bool = False  # then moves the journal's updates into the log, in order


#: The schema's history; ``PRAGMA user_version`` holds the last version applied.
MIGRATIONS = (
    Migration(
        1,
        "the journal of real-time updates, as matcher kept it before the store",
        """
        CREATE TABLE IF NOT EXISTS updates (seq INTEGER PRIMARY KEY,
            update_id TEXT NOT NULL UNIQUE, received_us INTEGER NOT NULL, body TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS by_received ON updates (received_us);
        """,
    ),
    Migration(
        2,
        "the ordered log and its head, feed generations and shared secrets; the journal moved in",
        """
        CREATE TABLE log (
            seq INTEGER PRIMARY KEY,
            update_id TEXT NOT NULL UNIQUE,
            supplier_id TEXT NOT NULL,
            window_start_us INTEGER NOT NULL,
            window_end_us INTEGER NOT NULL,
            accepted_us INTEGER NOT NULL,
            payload TEXT NOT NULL
        );
        CREATE INDEX log_by_supplier ON log (supplier_id, seq);
        CREATE INDEX log_by_accepted ON log (accepted_us);
        CREATE TABLE head (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            sequence INTEGER NOT NULL,
            generation INTEGER NOT NULL
        );
        CREATE TABLE generations (
            number INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            generated_us INTEGER NOT NULL,
            requested_by TEXT NOT NULL,
            requested_us INTEGER NOT NULL
        );
        CREATE TABLE secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);
        INSERT INTO head (id, sequence, generation) VALUES (1, 0, 0);
        """,
        adopt=True,
    ),
)
LATEST = MIGRATIONS[-1].version
_ENTRY = "SELECT seq, update_id, accepted_us, payload FROM log"
_INSERT = (
    "INSERT INTO log (seq, update_id, supplier_id, window_start_us, window_end_us, accepted_us,"
    " payload) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def migrate(db: sqlite3.Connection) -> int:
    """Brings the file's schema to the latest version; returns the version it found."""
    db.execute("BEGIN IMMEDIATE")
    try:
        found = schema_version(db)
        refuse_newer_schema(found, latest=LATEST)
        for step in MIGRATIONS[found:]:
            for statement in step.sql.split(";"):
                if statement.strip():
                    db.execute(statement)
            if step.adopt:
                _adopt_journal(db)
            db.execute(f"PRAGMA user_version = {step.version}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return found


def _adopt_journal(db: sqlite3.Connection) -> None:
    """Moves the updates of a journal from before the store into the log, keeping their order."""
    rows = db.execute("SELECT seq, update_id, received_us, body FROM updates ORDER BY seq")
    entries = []
    for seq, update_id, received_us, body in rows.fetchall():
        data = json.loads(body)  # {"supplier_id", "window": [us, us], "slots": [[us, us], ...]}
        start, end = data["window"]
        change = Update(
            update_id=update_id,
            supplier_id=data["supplier_id"],
            override=Override(
                window=Window(start=from_micros(start), end=from_micros(end)),
                slots=tuple(
                    Slot(start=from_micros(a), end=from_micros(b)) for a, b in data["slots"]
                ),
            ),
            received_at=from_micros(received_us),
        )
        entries.append(Entry(seq, change))
    db.executemany(_INSERT, [_row(e) for e in entries])
    db.execute("UPDATE head SET sequence = ? WHERE id = 1", (entries[-1].seq if entries else 0,))
    db.execute("DROP TABLE updates")


def schema_version(db: sqlite3.Connection) -> int:
    """The schema version a file holds; a journal from before versioning counts as 1."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version == 0 and db.execute("SELECT 1 FROM sqlite_master WHERE name = 'updates'").fetchone():
        return 1
    return version


class SqliteStore:
    """The store in one SQLite file, shared by the processes of one machine."""

    shared = False

    def __init__(self, path: Path) -> None:
        """Opens (or creates) the file and migrates its schema; sqlite3.Error if it cannot."""
        self.description = f"sqlite:{path}"
        self._lock = threading.Lock()
        self._changed = threading.Event()  # this process committed
        self._db = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=BUSY_SECONDS
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        migrate(self._db)
        self._seen = self._data_version()

    @contextmanager
    def _locked(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """The connection, for this thread alone; a write runs in one immediate transaction."""
        with self._lock:
            try:
                if not write:
                    yield self._db
                    return
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"{self.description}: {exc}") from exc
        if write:
            self._changed.set()

    def _data_version(self) -> int:
        """A number that changes whenever another connection commits to the file."""
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def head(self) -> Head:
        """The last sequence number and the current generation."""
        with self._locked() as db:
            self._seen = self._data_version()
            sequence, generation = db.execute(
                "SELECT sequence, generation FROM head WHERE id = 1"
            ).fetchone()
        return Head(sequence=sequence, generation=generation)

    def append(self, changes: Sequence[Update]) -> list[Recorded | UpdateConflict]:
        """Records updates in one transaction, in order; one outcome per update."""
        ids = [c.update_id for c in changes]
        with self._locked(write=True) as db:
            (after,) = db.execute("SELECT sequence FROM head WHERE id = 1").fetchone()
            marks = ",".join("?" * len(ids))
            rows = db.execute(f"{_ENTRY} WHERE update_id IN ({marks})", ids).fetchall()
            outcomes, fresh = planned(changes, {r[1]: _entry(*r) for r in rows}, after=after)
            db.executemany(_INSERT, [_row(e) for e in fresh])
            db.execute("UPDATE head SET sequence = ? WHERE id = 1", (after + len(fresh),))
        return outcomes

    def entries(
        self, *, after: int, limit: int, accepted_after: datetime | None = None
    ) -> list[Entry]:
        """Up to ``limit`` entries after a sequence number, in order."""
        since = -(1 << 62) if accepted_after is None else to_micros(accepted_after)
        with self._locked() as db:
            rows = db.execute(
                f"{_ENTRY} WHERE seq > ? AND accepted_us > ? ORDER BY seq LIMIT ?",
                (after, since, limit),
            ).fetchall()
        return [_entry(*r) for r in rows]

    def generation(self, number: int) -> Generation | None:
        """One generation by number."""
        with self._locked() as db:
            row = db.execute(
                "SELECT number, source, sha256, size, generated_us, requested_by, requested_us"
                " FROM generations WHERE number = ?",
                (number,),
            ).fetchone()
        if row is None:
            return None
        number, source, sha256, size, generated_us, requested_by, requested_us = row
        return Generation(
            number=number,
            source=source,
            sha256=sha256,
            size=size,
            generated_at=from_micros(generated_us),
            requested_by=requested_by,
            requested_at=from_micros(requested_us),
        )

    def record_generation(self, feed: FeedRecord, *, expected: int | None) -> Generation | None:
        """Makes a feed the current generation (if the current one is still ``expected``)."""
        with self._locked(write=True) as db:
            (current,) = db.execute("SELECT generation FROM head WHERE id = 1").fetchone()
            if expected is not None and current != expected:
                return None
            number = current + 1
            db.execute(
                "INSERT INTO generations (number, source, sha256, size, generated_us,"
                " requested_by, requested_us) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    number,
                    feed.source,
                    feed.sha256,
                    feed.size,
                    to_micros(feed.generated_at),
                    feed.requested_by,
                    to_micros(feed.requested_at),
                ),
            )
            db.execute("UPDATE head SET generation = ? WHERE id = 1", (number,))
        return Generation(number=number, **vars(feed))

    def wait(self, timeout: float) -> None:
        """Until this process commits, another one does, or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if self._changed.wait(min(POLL_SECONDS, max(left, 0))):
                self._changed.clear()
                return
            with self._lock:
                try:
                    if self._data_version() != self._seen:
                        return
                except sqlite3.Error as exc:
                    raise StoreUnavailable(f"{self.description}: {exc}") from exc
            if left <= 0:
                return

    def wake(self) -> None:
        """Ends a wait in progress."""
        self._changed.set()

    def compact(self, *, now: datetime, grace: timedelta) -> int:
        """Deletes entries older than ``grace`` that can change no answer (docs/operations.md)."""
        with self._locked(write=True) as db:
            done = db.execute(
                """
                DELETE FROM log WHERE accepted_us < :cutoff AND (
                    window_end_us <= :now
                    OR accepted_us <= (SELECT g.generated_us FROM generations g
                                       JOIN head h ON g.number = h.generation)
                    OR EXISTS (SELECT 1 FROM log newer
                               WHERE newer.supplier_id = log.supplier_id
                                 AND newer.seq > log.seq
                                 AND newer.accepted_us >= log.accepted_us
                                 AND newer.window_start_us <= log.window_start_us
                                 AND newer.window_end_us >= log.window_end_us))
                """,
                {"cutoff": to_micros(now - grace), "now": to_micros(now)},
            )
            return done.rowcount

    def secret(self, name: str) -> bytes:
        """A shared random secret, made by whichever process asks first."""
        with self._locked(write=True) as db:
            db.execute(
                "INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)",
                (name, secrets.token_bytes(32)),
            )
            (value,) = db.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
        return bytes(value)

    def close(self) -> None:
        """Closes the file."""
        with self._lock:
            self._db.close()


def _entry(seq: int, update_id: str, accepted_us: int, payload: str) -> Entry:
    """An entry from a row of the log."""
    return Entry(
        seq, decode(update_id=update_id, accepted_at=from_micros(accepted_us), payload=payload)
    )


def _row(entry: Entry) -> tuple[object, ...]:
    """The log's columns for an entry."""
    change = entry.update
    window = change.override.window
    return (
        entry.seq,
        change.update_id,
        change.supplier_id,
        to_micros(window.start),
        to_micros(window.end),
        to_micros(change.received_at),
        encode(change),
    )
