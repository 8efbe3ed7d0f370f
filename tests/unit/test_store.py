"""The store's contract, held by both backends: SQLite files and a real PostgreSQL server."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from matcher.errors import UpdateConflict
from matcher.instants import to_micros
from matcher.model import Override, Slot, Update, Window
from matcher.serving import postgresql, sqlite
from matcher.serving.postgresql import PostgresStore, redacted
from matcher.serving.sqlite import SqliteStore
from matcher.serving.store import FeedRecord, Head, Recorded, Store, StoreUnavailable
from tests.replicas import fresh_schema

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
TUESDAY = Window(start=datetime(2027, 3, 2, tzinfo=UTC), end=datetime(2027, 3, 3, tzinfo=UTC))


def change(
    update_id: str,
    *,
    supplier: str = "london-gp",
    window: Window = TUESDAY,
    at: datetime = NOW,
    minutes: int = 30,
) -> Update:
    """An update offering one slot at the start of its window."""
    slot = Slot(start=window.start, end=window.start + timedelta(minutes=minutes))
    return Update(
        update_id=update_id,
        supplier_id=supplier,
        override=Override(window=window, slots=(slot,)),
        received_at=at,
    )


def feed(sha: str = "ab" * 32, *, generated_at: datetime = NOW) -> FeedRecord:
    """A feed to record as a generation."""
    return FeedRecord(
        source="/feeds/suppliers.jsonl",
        sha256=sha,
        size=4904,
        generated_at=generated_at,
        requested_by="test",
        requested_at=NOW,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def opener(request, tmp_path) -> Iterator[Callable[[], Store]]:
    """Opens connections to one empty store of each backend; closes them afterwards."""
    opened: list[Store] = []
    if request.param == "sqlite":
        path = tmp_path / "store.sqlite"

        def open_one() -> Store:
            opened.append(SqliteStore(path))
            return opened[-1]
    else:
        dsn = fresh_schema(request.getfixturevalue("postgres"))

        def open_one() -> Store:
            opened.append(PostgresStore(dsn))
            return opened[-1]

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(opener) -> Store:
    return opener()


def test_a_new_store_is_empty(store):
    assert store.head() == Head(sequence=0, generation=0)
    assert store.entries(after=0, limit=10) == []
    assert store.generation(1) is None


def test_appends_are_numbered_in_order_and_read_back_whole(store):
    changes = [change(f"u{k}", minutes=30 + k) for k in range(3)]
    outcomes = store.append(changes)
    assert [o.entry.seq for o in outcomes] == [1, 2, 3]
    assert all(isinstance(o, Recorded) and o.new for o in outcomes)
    assert [e.update for e in store.entries(after=0, limit=10)] == changes
    assert [e.seq for e in store.entries(after=1, limit=1)] == [2]
    assert store.head().sequence == 3


def test_a_retry_gives_the_first_entry_and_another_change_conflicts(store):
    [first] = store.append([change("u1", at=NOW)])
    retry, conflict, fresh = store.append(
        [change("u1", at=NOW + timedelta(hours=1)), change("u1", minutes=45), change("u2")]
    )
    assert retry == Recorded(first.entry, new=False)
    assert retry.entry.update.received_at == NOW
    assert isinstance(conflict, UpdateConflict)
    assert fresh.entry.seq == 2
    assert store.head().sequence == 2


def test_a_repeat_inside_one_batch_is_recorded_once(store):
    first, again = store.append([change("u1"), change("u1")])
    assert (first.new, again.new, again.entry.seq) == (True, False, 1)


def test_entries_accepted_after_an_instant(store):
    store.append([change("old", at=NOW - timedelta(days=1)), change("new", at=NOW)])
    found = store.entries(after=0, limit=10, accepted_after=NOW - timedelta(hours=1))
    assert [e.update.update_id for e in found] == ["new"]


def test_generations_are_numbered_and_recorded_only_over_the_expected_one(store):
    first = store.record_generation(feed("aa" * 32), expected=0)
    assert first is not None and first.number == 1
    assert store.record_generation(feed("bb" * 32), expected=0) is None
    second = store.record_generation(feed("cc" * 32), expected=None)
    assert second is not None and second.number == 2
    assert store.head().generation == 2
    assert store.generation(1) == first
    assert store.generation(2) == second


def test_every_connection_shares_one_secret(opener):
    one, other = opener(), opener()
    assert len(one.secret("page_tokens")) == 32
    assert one.secret("page_tokens") == other.secret("page_tokens")
    assert one.secret("another") != one.secret("page_tokens")


def test_entries_become_visible_in_sequence_order_under_concurrent_writers(opener):
    """A follower reading ``seq > last`` must never skip an entry that commits late."""
    writers, per_writer = 3, 40
    reader, seen, done = opener(), [], threading.Event()

    def write(k: int) -> None:
        store = opener()
        for n in range(per_writer):
            store.append([change(f"w{k}-{n}")])

    def follow() -> None:
        while not done.is_set() or len(seen) < writers * per_writer:
            batch = reader.entries(after=seen[-1] if seen else 0, limit=1000)
            seen.extend(e.seq for e in batch)
            if len(seen) >= writers * per_writer:
                return

    follower = threading.Thread(target=follow)
    follower.start()
    threads = [threading.Thread(target=write, args=(k,)) for k in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    follower.join(timeout=60)
    assert seen == list(range(1, writers * per_writer + 1))


def test_a_waiting_follower_wakes_on_another_connections_commit(opener):
    follower, writer = opener(), opener()
    follower.head()  # what the follower has seen
    woke = threading.Event()

    def wait() -> None:
        follower.wait(timeout=60)
        woke.set()

    thread = threading.Thread(target=wait)
    thread.start()
    while not woke.is_set():
        writer.append([change(f"u{threading.get_ident()}-{datetime.now().timestamp()}")])
        woke.wait(0.2)
    thread.join()


def test_compaction_keeps_what_can_still_change_an_answer(store):
    later = Window(start=TUESDAY.start, end=TUESDAY.end + timedelta(days=1))
    old = NOW - timedelta(days=3)
    store.append(
        [
            change("ended", window=Window(start=old, end=old + timedelta(hours=1)), at=old),
            change("superseded", at=old),
            change("covers", window=later, at=old + timedelta(minutes=1)),
            change("young-ended", window=Window(start=NOW - timedelta(hours=2), end=NOW), at=NOW),
            change("other-supplier", supplier="paris-derm", at=old),
        ]
    )
    store.record_generation(feed(generated_at=old - timedelta(days=1)), expected=None)
    assert store.compact(now=NOW, grace=timedelta(hours=24)) == 2
    left = [e.update.update_id for e in store.entries(after=0, limit=10)]
    assert left == ["covers", "young-ended", "other-supplier"]


def test_compaction_drops_what_the_current_generation_already_holds(store):
    old = NOW - timedelta(days=3)
    store.append([change("before-feed", at=old), change("after-feed", supplier="x", at=NOW)])
    store.record_generation(feed(generated_at=old + timedelta(hours=1)), expected=None)
    assert store.compact(now=NOW, grace=timedelta(hours=24)) == 1
    assert [e.update.update_id for e in store.entries(after=0, limit=10)] == ["after-feed"]
    assert store.head().sequence == 2, "the head never moves back: no number is used twice"


def test_reopening_a_store_migrates_nothing_twice(opener):
    first = opener()
    first.append([change("u1")])
    second = opener()
    assert second.head().sequence == 1
    assert [e.update.update_id for e in second.entries(after=0, limit=10)] == ["u1"]


def test_a_journal_from_before_the_store_is_adopted_in_order(tmp_path):
    path = tmp_path / "updates.sqlite"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE updates (seq INTEGER PRIMARY KEY, update_id TEXT NOT NULL UNIQUE,"
        " received_us INTEGER NOT NULL, body TEXT NOT NULL)"
    )
    start, end = to_micros(TUESDAY.start), to_micros(TUESDAY.end)
    for seq, update_id in ((3, "a"), (7, "b")):
        slots = [[start, start + 1800_000_000]]
        body = json.dumps({"supplier_id": "london-gp", "window": [start, end], "slots": slots})
        old.execute(
            "INSERT INTO updates VALUES (?, ?, ?, ?)", (seq, update_id, to_micros(NOW), body)
        )
    old.commit()
    old.close()
    store = SqliteStore(path)
    entries = store.entries(after=0, limit=10)
    assert [(e.seq, e.update) for e in entries] == [(3, change("a")), (7, change("b"))]
    assert store.head() == Head(sequence=7, generation=0)
    assert store.append([change("c")])[0].entry.seq == 8
    store.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone() == (sqlite.LATEST,)


def test_a_schema_newer_than_this_matcher_is_refused(tmp_path, postgres):
    path = tmp_path / "store.sqlite"
    SqliteStore(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {sqlite.LATEST + 1}")
    db.close()
    with pytest.raises(StoreUnavailable, match="newer than this matcher knows"):
        SqliteStore(path)
    dsn = fresh_schema(postgres)
    PostgresStore(dsn).head()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO matcher_schema (version, summary) VALUES (%s, 'from the future')",
            (postgresql.LATEST + 1,),
        )
    future = PostgresStore(dsn)
    with pytest.raises(StoreUnavailable, match="newer than this matcher knows"):
        future.head()
    future.close()


def test_postgresql_migrations_are_recorded_once(postgres):
    dsn = fresh_schema(postgres)
    stores = [PostgresStore(dsn) for _ in range(3)]
    threads = [threading.Thread(target=s.head) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with psycopg.connect(dsn) as conn:
        versions = conn.execute("SELECT version FROM matcher_schema ORDER BY version").fetchall()
    assert versions == [(m.version,) for m in postgresql.MIGRATIONS]
    for s in stores:
        s.close()


def test_an_unreachable_postgresql_is_unavailable_and_its_password_never_shown(postgres):
    store = PostgresStore("postgresql://matcher:s3cret@127.0.0.1:1/matcher", connect_timeout=1.0)
    with pytest.raises(StoreUnavailable) as caught:
        store.head()
    assert "s3cret" not in str(caught.value)
    assert store.description == "postgresql://matcher@127.0.0.1:1/matcher"
    store.close()
    assert redacted("host=db port=5433 dbname=m user=u password=p") == "postgresql://u@db:5433/m"
