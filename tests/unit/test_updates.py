"""Real-time updates: slots replaced in a window, durable in the journal, kept or dropped on
reload by age, replayed at start-up, and idempotent by update id."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from matcher import queries
from matcher.errors import FailedPrecondition, InvalidArgument, NotFound, UpdateConflict
from matcher.model import Window
from matcher.queries import SlotInput, WindowInput
from matcher.serving.holder import CatalogHolder
from matcher.serving.journal import Journal
from matcher.settings import Limits
from tests.feed_files import tagged, write_feed

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


def starts(holder: CatalogHolder, window: Window = TUESDAY) -> list[str]:
    """london-gp's slot starts in a window, as HH:MM UTC."""
    _, found = holder.current().slots_for(
        "london-gp", user_zone="Europe/London", window=window, now=NOW
    )
    return [s.start.strftime("%H:%M") for s in found]


@pytest.fixture
def feed_path(tmp_path):
    return write_feed(tmp_path / "feed.jsonl", tagged("v1"))


@pytest.fixture
def journal(tmp_path):
    opened = Journal(tmp_path / "updates.sqlite")
    yield opened
    opened.close()


@pytest.fixture
def holder(feed_path, journal):
    return CatalogHolder(feed_path, clock=lambda: NOW, journal=journal)


RULES_ONLY = [f"{h:02d}:{m:02d}" for h in range(9, 17) for m in (0, 30)]


def test_an_update_replaces_the_slots_inside_its_window_only(holder):
    assert starts(holder) == RULES_ONLY
    holder.update(london_change())
    assert starts(holder) == ["09:00", "09:30", "10:15", *RULES_ONLY[6:]]


def test_an_empty_update_closes_its_window(holder):
    holder.update(london_change(slots=()))
    assert starts(holder) == ["09:00", "09:30", *RULES_ONLY[6:]]


def test_a_later_update_wins_where_two_overlap(holder):
    holder.update(london_change("u1", start="10:00", end="12:00", slots=(("10:15", 45),)))
    holder.update(london_change("u2", start="11:00", end="13:00", slots=(("12:40", 20),)))
    assert starts(holder) == ["09:00", "09:30", "10:15", "12:40", *RULES_ONLY[8:]]


def test_an_update_can_open_a_day_the_feed_has_no_hours_on(holder):
    sunday = Window(start=at("00:00", 7), end=at("00:00", 8))
    holder.update(london_change(start="08:00", end="18:00", slots=(("10:00", 60),), day=7))
    assert starts(holder, sunday) == ["10:00"]


def test_a_retry_changes_nothing_and_returns_the_first_record(holder):
    first = holder.update(london_change())
    again = london_change()
    assert holder.update(again) is not again
    assert holder.update(again) == first
    assert starts(holder) == ["09:00", "09:30", "10:15", *RULES_ONLY[6:]]


def test_reusing_an_update_id_for_another_change_conflicts(holder):
    holder.update(london_change())
    with pytest.raises(UpdateConflict):
        holder.update(london_change(slots=(("10:30", 30),)))


def test_an_update_for_an_unknown_supplier_is_not_recorded(holder, journal):
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
        holder.update(stranger)
    assert journal.since(NOW - timedelta(days=1)) == []


def test_updates_are_durable_and_replayed_at_start_up(feed_path, tmp_path):
    path = tmp_path / "updates.sqlite"
    first = Journal(path)
    CatalogHolder(feed_path, clock=lambda: NOW, journal=first).update(london_change())
    first.close()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)
    reopened = Journal(path)
    restarted = CatalogHolder(feed_path, clock=lambda: NOW, journal=reopened)
    assert starts(restarted) == ["09:00", "09:30", "10:15", *RULES_ONLY[6:]]
    reopened.close()


def test_a_reload_keeps_updates_newer_than_its_batch(holder, feed_path):
    holder.update(london_change())
    write_feed(feed_path, tagged("v2", generated_at="2027-03-01T11:59:00Z"))
    holder.reload()
    assert starts(holder) == ["09:00", "09:30", "10:15", *RULES_ONLY[6:]]


def test_a_reload_drops_updates_older_than_its_batch(holder, feed_path):
    holder.update(london_change())
    write_feed(feed_path, tagged("v2", generated_at="2027-03-01T12:01:00Z"))
    holder.reload()
    assert starts(holder) == RULES_ONLY


def test_without_a_journal_updates_are_refused(feed_path):
    with pytest.raises(FailedPrecondition):
        CatalogHolder(feed_path).update(london_change())


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
    holder.update(london_change())
    records = [r for r in tagged("v2") if "london-gp" not in (r.get("id"), r.get("supplier_id"))]
    write_feed(feed_path, records)
    holder.reload()
    with pytest.raises(NotFound):
        holder.current().supplier("london-gp")
