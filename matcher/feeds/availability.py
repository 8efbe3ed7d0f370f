"""An availability record: when a supplier can be booked, in its own local wall time."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from matcher.feeds.files import Record
from matcher.feeds.shared import Shared
from matcher.model import (
    HHMM_RULE,
    SLOT_MINUTES,
    SLOT_MINUTES_RULE,
    Availability,
    OneOff,
    WeeklyRule,
    minute_of_day,
)

DAYS = {"MON": 0, "TUE": 1, "WED": 2, "THU": 3, "FRI": 4, "SAT": 5, "SUN": 6}
MAX_SPOTS = 1000
MAX_NOTICE_MINUTES = 366 * 24 * 60


def availability(record: Record, shared: Shared, *, version: int) -> Availability:
    """A checked availability line: weekly rules, one-offs, closures, notice and bookings."""
    notice = record.get("min_notice_minutes", int, required=False) or 0
    if notice < 0:
        raise record.fail("min_notice_minutes", "must not be negative")
    if notice > MAX_NOTICE_MINUTES:
        raise record.fail("min_notice_minutes", f"must be at most {MAX_NOTICE_MINUTES} (a year)")
    return Availability(
        weekly=shared.made(
            record,
            "weekly",
            lambda: tuple(shared(_weekly(r, version=version)) for r in record.items("weekly")),
            version=version,
        ),
        one_off=tuple(_one_off(o, version=version) for o in record.items("one_off")),
        closed=shared.made(record, "closed", lambda: _closed(record)),
        min_notice=timedelta(minutes=notice),
        booked=_booked(record, version=version),
    )


def _closed(record: Record) -> frozenset[date]:
    """The local dates a supplier is closed."""
    return frozenset(
        _date(record, k) for k in range(len(record.get("closed", list, required=False) or []))
    )


def _weekly(rule: Record, *, version: int) -> WeeklyRule:
    """A weekly rule: days, local start and end, slot length."""
    days = rule.strings("days")
    unknown = [d for d in days if d not in DAYS]
    if not days or unknown:
        raise rule.fail("days", f"must list days among {', '.join(DAYS)}")
    start, end = _minute(rule, "start"), _minute(rule, "end")
    if end <= start:
        raise rule.fail("end", "must be after start")
    length = rule.get("slot_minutes", int)
    if length not in SLOT_MINUTES:
        raise rule.fail("slot_minutes", SLOT_MINUTES_RULE)
    return WeeklyRule(
        days=frozenset(DAYS[d] for d in days),
        start_minute=start,
        end_minute=end,
        slot_minutes=length,
        spots=_spots(rule, version=version),
    )


def _spots(record: Record, *, version: int) -> int:
    """The places in a slot: 1 unless a version 2 record says more."""
    if "spots" not in record.data:
        return 1
    if version < 2:
        raise record.fail("spots", "needs format_version 2")
    spots: int = record.get("spots", int)
    if not 1 <= spots <= MAX_SPOTS:
        raise record.fail("spots", f"must be between 1 and {MAX_SPOTS}")
    return spots


def _minute(record: Record, name: str) -> int:
    """A local "HH:MM" as minutes after midnight ("24:00" allowed)."""
    text = record.text(name)
    minute = minute_of_day(text)
    if minute is None:
        raise record.fail(name, f"{HHMM_RULE}, got {text!r}")
    return minute


def _one_off(record: Record, *, version: int) -> OneOff:
    """A one-off slot at a local wall time."""
    wall = _wall(record, "start")
    minutes = record.get("minutes", int)
    if minutes not in SLOT_MINUTES:
        raise record.fail("minutes", SLOT_MINUTES_RULE)
    return OneOff(start=wall, minutes=minutes, spots=_spots(record, version=version))


def _booked(record: Record, *, version: int) -> tuple[tuple[datetime, int], ...]:
    """Places already booked, by the local wall time their slot starts at (version 2)."""
    if "booked" in record.data and version < 2:
        raise record.fail("booked", "needs format_version 2")
    return tuple(_booking(b) for b in record.items("booked"))


def _booking(record: Record) -> tuple[datetime, int]:
    """Places already booked in the slot starting at a local wall time."""
    taken: int = record.get("spots", int)
    if not 1 <= taken <= MAX_SPOTS:
        raise record.fail("spots", f"must be between 1 and {MAX_SPOTS}")
    return _wall(record, "start"), taken


def _wall(record: Record, name: str) -> datetime:
    """A local wall time "YYYY-MM-DDTHH:MM", with no UTC offset."""
    text = record.text(name)
    try:
        wall = datetime.fromisoformat(text)
    except ValueError:
        raise record.fail(
            name, f"must be a local wall time YYYY-MM-DDTHH:MM, got {text!r}"
        ) from None
    if wall.tzinfo is not None:
        raise record.fail(name, "is the supplier's wall time: give no UTC offset")
    return wall


def _date(record: Record, k: int) -> date:
    """The k-th closed local date."""
    text = record.data["closed"][k]
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise record.fail(f"closed[{k}]", f"must be a date YYYY-MM-DD, got {text!r}") from None
