"""Replicas for in-process tests: a feed, a real store (SQLite or PostgreSQL), a pinned clock."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from devtools.postgres import TemporaryPostgres
from matcher.serving.replica import Replica
from matcher.serving.sqlite import SqliteStore
from matcher.serving.store import Store
from matcher.settings import Settings
from tests.conftest import NOW


def replica_over(
    feed: Path,
    store: Store,
    *,
    cache: Path,
    clock: Callable[[], datetime] = lambda: NOW,
    updates: bool = True,
    who: str = "test",
    **settings: Any,
) -> Replica:
    """A started, following replica of ``feed`` over ``store``; stop it when done."""
    replica = Replica(
        store=store,
        settings=Settings(feed=str(feed), feed_cache=cache, **settings),
        source=str(feed),
        accepts_updates=updates,
        clock=clock,
        who=who,
    )
    replica.start()
    replica.follow()
    return replica


@contextmanager
def sqlite_replica(feed: Path, directory: Path, **options: Any) -> Iterator[Replica]:
    """A replica over a SQLite store in ``directory``, stopped at the end of the block."""
    directory.mkdir(parents=True, exist_ok=True)
    replica = replica_over(
        feed, SqliteStore(directory / "store.sqlite"), cache=directory / "cache", **options
    )
    try:
        yield replica
    finally:
        replica.stop()


def fresh_schema(server: TemporaryPostgres) -> str:
    """The URI of a new, empty schema on a shared server (cheaper than a database: no copy of
    the template to write and sync); the store's tables go there through its search_path."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    return f"{server.dsn}?options=-c%20search_path%3D{name}"


def eventually(condition: Callable[[], bool], *, what: str, patience: float = 30.0) -> None:
    """Polls until ``condition()`` holds; fails after a generous deadline (never a speed check)."""
    deadline = time.monotonic() + patience
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
