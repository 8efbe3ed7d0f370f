"""An availability record: when a supplier can be booked, in its own local wall time.

The feed schema has checked every field's type and range; what is left is what it cannot say:
that a rule ends after it starts, and that dates and wall times are real ones.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

from matcher.feeds.files import Record
from matcher.feeds.messages import clipped
from matcher.feeds.shared import Shared
from matcher.model import Availability, OneOff, WeeklyRule, minute_of_day

DAYS = {"MON": 0, "TUE": 1, "WED": 2, "THU": 3, "FRI": 4, "SAT": 5, "SUN": 6}


def availability(record: Record, shared: Shared, *, version: int) -> Availability:
    """A checked availability line: weekly rules, one-offs, closures, notice and bookings."""
    data = record.data
    return Availability(
        weekly=shared.made(
            record,
            "weekly",
            lambda: tuple(shared(_weekly(r)) for r in record.items("weekly")),
            version=version,
        ),
        one_off=tuple(map(_one_off, record.items("one_off"))) if data.get("one_off") else (),
        closed=shared.made(record, "closed", lambda: _closed(record), strings=True),
        min_notice=_notice(data.get("min_notice_minutes", 0)),
        booked=tuple(map(_booking, record.items("booked"))) if data.get("booked") else (),
    )


@lru_cache(maxsize=1024)
def _notice(minutes: int | float) -> timedelta:
    """A notice period: a few distinct values shared by every supplier that gives them."""
    return timedelta(minutes=int(minutes))


def _booking(record: Record) -> tuple[datetime, int]:
    """Places already taken in the slot starting at a local wall time."""
    return _wall(record, "start"), int(record.data["spots"])


def _closed(record: Record) -> frozenset[date]:
    """The local dates a supplier is closed."""
    return frozenset(_date(record, k, text) for k, text in enumerate(record.data.get("closed", ())))


def _weekly(rule: Record) -> WeeklyRule:
    """A weekly rule: days, local start and end, slot length."""
    data = rule.data
    start, end = minute_of_day(data["start"]), minute_of_day(data["end"])
    assert start is not None and end is not None  # the schema's patterns
    if end <= start:
        raise rule.fail("end", f"must be after start ({data['start']}), got {clipped(data['end'])}")
    return WeeklyRule(
        days=frozenset(DAYS[d] for d in data["days"]),
        start_minute=start,
        end_minute=end,
        slot_minutes=int(data["slot_minutes"]),  # JSON's 30.0 is the whole number 30
        spots=int(data.get("spots", 1)),
    )


def _one_off(record: Record) -> OneOff:
    """A one-off slot at a local wall time."""
    data = record.data
    return OneOff(
        start=_wall(record, "start"), minutes=int(data["minutes"]), spots=int(data.get("spots", 1))
    )


def _wall(record: Record, name: str) -> datetime:
    """A real local wall time "YYYY-MM-DDTHH:MM" (the schema has checked its shape)."""
    text = record.data[name]
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise record.fail(
            name, f"must be a real local wall time YYYY-MM-DDTHH:MM, got {clipped(text)}"
        ) from None


def _date(record: Record, k: int, text: str) -> date:
    """The k-th closed local date, a real one (the schema has checked its shape)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise record.fail(
            f"closed[{k}]", f"must be a real local date YYYY-MM-DD, got {clipped(text)}"
        ) from None
