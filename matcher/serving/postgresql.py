"""The shared store: PostgreSQL through psycopg 3 and its pool, for any number of replicas.

Writers lock the head row (``SELECT ... FOR UPDATE``) for the whole transaction, so entries
commit in sequence order, and notify ``matcher_store`` on commit; followers LISTEN on a
connection of their own and read the head again whenever they wake (a notification is only a
hint, so one lost while reconnecting costs nothing but the poll's delay). Every failure to
reach the server becomes StoreUnavailable; the pool reconnects by itself.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from matcher.errors import UpdateConflict
from matcher.model import Update
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

CHANNEL = "matcher_store"
#: Connections one process keeps: the appender, the follower and status calls.
POOL_SIZE = 4
#: Serialises migrations between processes starting at once (any constant of ours will do).
MIGRATION_LOCK = 0x6D61746368657201
#: Lets one process compact at a time; the others skip their turn.
COMPACTION_LOCK = 0x6D61746368657202


@dataclass(frozen=True)
class Migration:
    """One step of the schema, applied once, in order, in one transaction with its record."""

    version: int
    summary: str
    sql: str


#: The schema's history; ``matcher_schema`` records each version applied, and when.
MIGRATIONS = (
    Migration(
        1,
        "the ordered log and its head, feed generations and shared secrets",
        """
        CREATE TABLE matcher_log (
            seq bigint PRIMARY KEY,
            update_id text NOT NULL UNIQUE,
            supplier_id text NOT NULL,
            window_start timestamptz NOT NULL,
            window_end timestamptz NOT NULL,
            accepted_at timestamptz NOT NULL,
            payload jsonb NOT NULL
        );
        CREATE INDEX matcher_log_by_supplier ON matcher_log (supplier_id, seq);
        CREATE INDEX matcher_log_by_accepted ON matcher_log (accepted_at);
        CREATE TABLE matcher_head (
            id boolean PRIMARY KEY DEFAULT true CHECK (id),
            sequence bigint NOT NULL,
            generation bigint NOT NULL
        );
        INSERT INTO matcher_head (sequence, generation) VALUES (0, 0);
        CREATE TABLE matcher_generations (
            number bigint PRIMARY KEY,
            source text NOT NULL,
            sha256 text NOT NULL,
            size bigint NOT NULL,
            generated_at timestamptz NOT NULL,
            requested_by text NOT NULL,
            requested_at timestamptz NOT NULL
        );
        CREATE TABLE matcher_secrets (name text PRIMARY KEY, value bytea NOT NULL);
        """,
    ),
)
LATEST = MIGRATIONS[-1].version
_ENTRY = "SELECT seq, update_id, accepted_at, payload FROM matcher_log"
_GENERATION = (
    "SELECT number, source, sha256, size, generated_at, requested_by, requested_at"
    " FROM matcher_generations"
)


def migrate(conn: psycopg.Connection[Any]) -> int:
    """Brings the database's schema to the latest version; returns the version it found."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS matcher_schema (version integer PRIMARY KEY,"
            " summary text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        row = conn.execute("SELECT coalesce(max(version), 0) FROM matcher_schema").fetchone()
        found = int(row[0]) if row else 0
        refuse_newer_schema(found, latest=LATEST)
        for step in MIGRATIONS[found:]:
            conn.execute(step.sql.encode())
            conn.execute(
                "INSERT INTO matcher_schema (version, summary) VALUES (%s, %s)",
                (step.version, step.summary),
            )
    return found


def redacted(dsn: str) -> str:
    """A connection string safe to log and show: user, host, port and database, no password."""
    try:
        parts = conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "postgresql://(unreadable connection string)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"


class PostgresStore:
    """The store in a PostgreSQL database, shared by every replica that names it."""

    shared = True

    def __init__(
        self, dsn: str, *, connect_timeout: float = 3.0, statement_timeout: float = 10.0
    ) -> None:
        """Nothing connects until the store is first used."""
        self.description = redacted(dsn)
        self._timeout = connect_timeout
        mine = f"-c statement_timeout={round(statement_timeout * 1000)} -c TimeZone=UTC"
        self._kwargs: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": max(1, round(connect_timeout)),
            # the URI's own options (a search_path, say) first; ours after them
            "options": f"{_options(dsn)} {mine}".strip(),
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
        }
        self._dsn = dsn
        self._ready = threading.Lock()
        self._pool: ConnectionPool | None = None
        self._listener: psycopg.Connection[Any] | None = None

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; StoreUnavailable when the server cannot be reached.

        A failure drops the whole pool: after an outage the next call connects afresh at once,
        rather than waiting for the pool's own reconnections, whose waits double without bound.
        """
        pool = self._opened()
        try:
            with pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
            self._drop(pool)
            raise StoreUnavailable(f"{self.description}: {_first_line(exc)}") from exc

    def _opened(self) -> ConnectionPool:
        """The pool, opened after one direct connection proved the server there (and brought
        its schema up to date)."""
        with self._ready:
            if self._pool is not None:
                return self._pool
            try:
                with psycopg.connect(self._dsn, **self._kwargs) as probe:
                    migrate(probe)
                pool = ConnectionPool(
                    self._dsn,
                    min_size=1,
                    max_size=POOL_SIZE,
                    open=False,
                    kwargs=self._kwargs,
                    timeout=self._timeout,
                    check=ConnectionPool.check_connection,
                    name="matcher-store",
                )
                pool.open(wait=True, timeout=self._timeout)
            except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
                raise StoreUnavailable(f"{self.description}: {_first_line(exc)}") from exc
            self._pool = pool
            return pool

    def _drop(self, pool: ConnectionPool) -> None:
        """Closes a pool that failed, unless another thread replaced it already."""
        with self._ready:
            if self._pool is pool:
                self._pool = None
        pool.close(timeout=1.0)

    def head(self) -> Head:
        """The last sequence number and the current generation."""
        with self._connection() as conn:
            row = conn.execute("SELECT sequence, generation FROM matcher_head").fetchone()
        assert row is not None
        return Head(sequence=int(row[0]), generation=int(row[1]))

    def append(self, changes: Sequence[Update]) -> list[Recorded | UpdateConflict]:
        """Records updates in one transaction, in order; one outcome per update."""
        ids = [c.update_id for c in changes]
        with self._connection() as conn, conn.transaction():
            row = conn.execute("SELECT sequence FROM matcher_head FOR UPDATE").fetchone()
            assert row is not None
            after = int(row[0])
            rows = conn.execute(f"{_ENTRY} WHERE update_id = ANY(%s)", (ids,)).fetchall()
            outcomes, fresh = planned(changes, {r[1]: _entry(*r) for r in rows}, after=after)
            if fresh:
                with conn.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO matcher_log (seq, update_id, supplier_id, window_start,"
                        " window_end, accepted_at, payload) VALUES (%s, %s, %s, %s, %s, %s,"
                        " %s::jsonb)",
                        [_row(e) for e in fresh],
                    )
                last = fresh[-1].seq
                conn.execute("UPDATE matcher_head SET sequence = %s", (last,))
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"log {last}"))
        return outcomes

    def entries(
        self, *, after: int, limit: int, accepted_after: datetime | None = None
    ) -> list[Entry]:
        """Up to ``limit`` entries after a sequence number, in order."""
        with self._connection() as conn:
            if accepted_after is None:
                rows = conn.execute(
                    f"{_ENTRY} WHERE seq > %s ORDER BY seq LIMIT %s", (after, limit)
                ).fetchall()
            else:
                rows = conn.execute(
                    f"{_ENTRY} WHERE seq > %s AND accepted_at > %s ORDER BY seq LIMIT %s",
                    (after, accepted_after, limit),
                ).fetchall()
        return [_entry(*r) for r in rows]

    def generation(self, number: int) -> Generation | None:
        """One generation by number."""
        with self._connection() as conn:
            row = conn.execute(f"{_GENERATION} WHERE number = %s", (number,)).fetchone()
        return None if row is None else _generation(*row)

    def record_generation(self, feed: FeedRecord, *, expected: int | None) -> Generation | None:
        """Makes a feed the current generation (if the current one is still ``expected``)."""
        with self._connection() as conn, conn.transaction():
            row = conn.execute("SELECT generation FROM matcher_head FOR UPDATE").fetchone()
            assert row is not None
            current = int(row[0])
            if expected is not None and current != expected:
                return None
            number = current + 1
            conn.execute(
                "INSERT INTO matcher_generations (number, source, sha256, size, generated_at,"
                " requested_by, requested_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    number,
                    feed.source,
                    feed.sha256,
                    feed.size,
                    feed.generated_at,
                    feed.requested_by,
                    feed.requested_at,
                ),
            )
            conn.execute("UPDATE matcher_head SET generation = %s", (number,))
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"generation {number}"))
        return Generation(number=number, **vars(feed))

    def wait(self, timeout: float) -> None:
        """Until a notification arrives on the store's channel, or ``timeout`` passes."""
        try:
            if self._listener is None or self._listener.closed:
                self._listener = psycopg.connect(self._dsn, **self._kwargs)
                self._listener.execute(f"LISTEN {CHANNEL}")
            for _ in self._listener.notifies(timeout=timeout, stop_after=1):
                pass
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            self._drop_listener()
            raise StoreUnavailable(f"{self.description}: {_first_line(exc)}") from exc

    def wake(self) -> None:
        """Ends a wait in progress with a notification of our own (if the store answers)."""
        with suppress(StoreUnavailable), self._connection() as conn:
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, "wake"))

    def compact(self, *, now: datetime, grace: timedelta) -> int:
        """Deletes entries older than ``grace`` that can change no answer (docs/operations.md);
        skipped (0) while another process compacts."""
        with self._connection() as conn, conn.transaction():
            row = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (COMPACTION_LOCK,))
            locked = row.fetchone()
            if not (locked and locked[0]):
                return 0
            conn.execute("SET LOCAL statement_timeout = '10min'")  # a large log, once
            done = conn.execute(
                """
                DELETE FROM matcher_log l WHERE l.accepted_at < %(cutoff)s AND (
                    l.window_end <= %(now)s
                    OR l.accepted_at <= (SELECT g.generated_at FROM matcher_generations g
                                         JOIN matcher_head h ON g.number = h.generation)
                    OR EXISTS (SELECT 1 FROM matcher_log n
                               WHERE n.supplier_id = l.supplier_id
                                 AND n.seq > l.seq
                                 AND n.accepted_at >= l.accepted_at
                                 AND n.window_start <= l.window_start
                                 AND n.window_end >= l.window_end))
                """,
                {"cutoff": now - grace, "now": now},
            )
            return done.rowcount

    def secret(self, name: str) -> bytes:
        """A shared random secret, made by whichever process asks first."""
        with self._connection() as conn:
            conn.execute(
                "INSERT INTO matcher_secrets (name, value) VALUES (%s, %s)"
                " ON CONFLICT (name) DO NOTHING",
                (name, secrets.token_bytes(32)),
            )
            row = conn.execute(
                "SELECT value FROM matcher_secrets WHERE name = %s", (name,)
            ).fetchone()
        assert row is not None
        return bytes(row[0])

    def close(self) -> None:
        """Closes the pool and the listening connection."""
        self._drop_listener()
        with self._ready:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close(timeout=1.0)

    def _drop_listener(self) -> None:
        """Forgets the listening connection (a broken one is closed quietly)."""
        if self._listener is not None:
            with suppress(psycopg.Error):
                self._listener.close()
            self._listener = None


def _options(dsn: str) -> str:
    """The ``options`` a connection string gives, if it can be read."""
    try:
        return str(conninfo.conninfo_to_dict(dsn).get("options") or "")
    except psycopg.ProgrammingError:
        return ""


def _first_line(exc: BaseException) -> str:
    """An error's first line: libpq's messages run on with hints and context."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _entry(seq: int, update_id: str, accepted_at: datetime, payload: Any) -> Entry:
    """An entry from a row of the log."""
    return Entry(int(seq), decode(update_id=update_id, accepted_at=accepted_at, payload=payload))


def _generation(*row: Any) -> Generation:
    """A generation from a row of its table."""
    number, source, sha256, size, generated_at, requested_by, requested_at = row
    return Generation(
        number=int(number),
        source=source,
        sha256=sha256,
        size=int(size),
        generated_at=generated_at,
        requested_by=requested_by,
        requested_at=requested_at,
    )


def _row(entry: Entry) -> tuple[object, ...]:
    """The log's columns for an entry."""
    change = entry.update
    window = change.override.window
    return (
        entry.seq,
        change.update_id,
        change.supplier_id,
        window.start,
        window.end,
        change.received_at,
        encode(change),
    )
