"""Real-time updates: slots replaced in a window, durable in the store, kept or dropped on
reload by age, replayed at start-up, idempotent by update id, and folded per supplier."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from matcher import queries
from matcher.errors import FailedPrecondition, InvalidArgument, NotFound, UpdateConflict
from matcher.model import Window
from matcher.queries import SlotInput, WindowInput
from matcher.serving.replica import Replica
from matcher.serving.sqlite import SqliteStore
from matcher.settings import Limits
from tests.feed_files import tagged, write_feed
from tests.replicas import sqlite_replica

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)  # a Monday
TUESDAY = Window(start=datetime(2027, 3, 2, tzinfo=UTC), end=datetime(2027, 3, 3, tzinfo=UTC))


def at(hh_mm: str, day: int = 2) -> datetime:
    """An instant on a day of March 2027 (London is on UTC then)."""
    hours, minutes = map(int, hh_mm.split(":"))
    return datetime(2027, 3, day, hours, minutes, tzinfo=UTC)


def update(*, start, end, slots, **fields):
    """A checked update from plain values: the window's ends and (start, minutes) slots."""
    return queries.update(
        requested=WindowInput(start=start, end=end),
        slots=[SlotInput(start=s, minutes=minutes) for s, minutes in slots],
        limits=Limits(),
        **fields,
    )


def london_change(update_id="u1", *, start="10:00", end="12:00", slots=(("10:15", 45),), day=2):
    """An update of london-gp (Mon-Fri 09:00-17:00, 30-minute slots) on a day of March 2027."""
    return update(
        update_id=update_id,
        supplier_id="london-gp",
        start=at(start, day),
        end=at(end, day),
        slots=[(at(s, day), minutes) for s, minutes in slots],
        received_at=NOW,
    )


def starts(replica: Replica, window: Window = TUESDAY) -> list[str]:
    """london-gp's slot starts in a window, as HH:MM UTC."""
    _, found = replica.current().slots_for(
        "london-gp", user_zone="Europe/London", window=window, now=NOW
    )
    return [s.start.strftime("%H:%M") for s in found]


@pytest.fixture
def feed_path(tmp_path):
    return write_feed(tmp_path / "feed.jsonl", tagged("v1"))


@pytest.fixture
def holder(feed_path, tmp_path):
    with sqlite_replica(feed_path, tmp_path) as replica:
        yield replica


def recorded(replica: Replica, change):
    """The update as the store recorded it, once this replica serves it."""
    accepted = replica.update(change, wait=True)
    assert accepted.served
    return accepted.recorded.entry.update


RULES_ONLY = [f"{h:02d}:{m:02d}" for h in range(9, 17) for m in (0, 30)]


def test_an_update_replaces_the_slots_inside_its_window_only(holder):
    assert starts(holder) == RULES_ONLY
    recorded(holder, london_change())
    assert starts(holder) == ["09:00", "09:30", "10:15", *RULES_ONLY[6:]]


def test_an_empty_update_closes_its_window(holder):
    recorded(holder, london_change(slots=()))
    assert starts(holder) == ["09:00", "09:30", *RULES_ONLY[6:]]


def test_a_later_update_wins_where_two_overlap(holder):
    recorded(holder, london_change("u1", start="10:00", end="12:00", slots=(("10:15", 45),)))
    recorded(holder, london_change("u2", start="11:00", end="13:00", slots=(("12:40", 20),)))
    assert starts(holder) == ["09:00", "09:30", "10:15", "12:40", *RULES_ONLY[8:]]


def test_an_update_can_open_a_day_the_feed_has_no_hours_on(holder):
    sunday = Window(start=at("00:00", 7), end=at("00:00", 8))
    recorded(holder, london_change(start="08:00", end="18:00", slots=(("10:00", 60),), day=7))
    assert starts(holder, sunday) == ["10:00"]


def test_a_retry_changes_nothing_and_returns_the_first_record(holder):
    first = recorded(holder, london_change())
    again = london_change()
    assert recorded(holder, again) is not again
    assert recorded(holder, again) == first
    assert starts(holder) == ["09:00", "09:30", "10:15", *RULES_ONLY[6:]]


def test_reusing_an_update_id_for_another_change_conflicts(holder):
    recorded(holder, london_change())
    with pytest.raises(UpdateConflict):
        recorded(holder, london_change(slots=(("10:30", 30),)))


def test_an_update_for_an_unknown_supplier_is_not_recorded(holder, tmp_path):
    change = london_change()
    stranger = update(
        update_id="u9",
        supplier_id="nobody",
        start=change.override.window.start,
        end=change.override.window.end,
        slots=[],
        received_at=NOW,
    )
    with pytest.raises(NotFound):
        holder.update(stranger, wait=True)
    store = SqliteStore(tmp_path / "store.sqlite")
    assert store.entries(after=0, limit=10) == []
    store.close()


def test_updates_are_durable_and_replayed_at_start_up(feed_path, tmp_path):
    with sqlite_replica(feed_path, tmp_path) as first:
        recorded(first, london_change())
    path = tmp_path / "store.sqlite"
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)
    with sqlite_replica(feed_path, tmp_path) as restarted:
        assert starts(restarted) == ["09:00", "09:30", "10:15", *RULES_ONLY[6:]]


def test_a_reload_keeps_updates_newer_than_its_batch(holder, feed_path):
    recorded(holder, london_change())
    write_feed(feed_path, tagged("v2", generated_at="2027-03-01T11:59:00Z"))
    holder.reload()
    assert starts(holder) == ["09:00", "09:30", "10:15", *RULES_ONLY[6:]]


def test_a_reload_drops_updates_older_than_its_batch(holder, feed_path):
    recorded(holder, london_change())
    write_feed(feed_path, tagged("v2", generated_at="2027-03-01T12:01:00Z"))
    holder.reload()
    assert starts(holder) == RULES_ONLY


def test_without_a_journal_updates_are_refused(feed_path, tmp_path):
    with (
        sqlite_replica(feed_path, tmp_path, updates=False) as replica,
        pytest.raises(FailedPrecondition),
    ):
        replica.update(london_change(), wait=True)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"update_id": ""}, "update_id"),
        ({"update_id": "x" * 129}, "update_id"),
        ({"supplier_id": ""}, "supplier_id"),
        ({"start": None}, "window"),
        ({"end": at("09:00")}, "window.end"),
        ({"end": at("10:00") + timedelta(days=32)}, "window"),
        ({"slots": [(at("12:00"), 30)]}, "slots[0].start"),
        ({"slots": [(at("10:30"), 30), (at("11:00"), 4)]}, "slots[1].minutes"),
    ],
)
def test_a_bad_update_names_its_field(fields, field):
    request = {
        "update_id": "u1",
        "supplier_id": "london-gp",
        "start": at("10:00"),
        "end": at("12:00"),
        "slots": [],
        "received_at": NOW,
    }
    with pytest.raises(InvalidArgument) as caught:
        update(**(request | fields))
    assert [v.field for v in caught.value.violations] == [field]


def test_a_reload_without_the_updated_supplier_skips_its_update(holder, feed_path):
    recorded(holder, london_change())
    records = [r for r in tagged("v2") if "london-gp" not in (r.get("id"), r.get("supplier_id"))]
    write_feed(feed_path, records)
    holder.reload()
    with pytest.raises(NotFound):
        holder.current().supplier("london-gp")
