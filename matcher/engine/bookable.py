"""Which of one supplier's slots a user can book now: the first ones in a window, and re-checks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from matcher.engine.budget import Budget
from matcher.engine.expansion import expand, iter_slots
from matcher.engine.rendering import render
from matcher.engine.slot_ids import SlotRef
from matcher.geo.timezones import zone
from matcher.model import LocalHours, RenderedSlot, Slot, SlotCheck, SlotStatus, Supplier, Window


def iter_bookable(supplier: Supplier, *, window: Window, now: datetime) -> Iterator[Slot]:
    """A supplier's slots in a window that can still be booked given its minimum notice."""
    return iter_slots(
        supplier.availability,
        tz=zone(supplier.timezone),
        window=window,
        not_before=now + supplier.availability.min_notice,
    )


def first_slots(
    supplier: Supplier,
    *,
    window: Window,
    now: datetime,
    user_tz: ZoneInfo,
    local_hours: LocalHours | None,
    limit: int,
    budget: Budget | None = None,
    preferred_hours: LocalHours | None = None,
) -> list[RenderedSlot]:
    """The first ``limit`` bookable slots in the window and the user's hours, rendered for them;
    the slots expanded, in the user's hours or not, are charged to the budget.

    With no hours asked for, ``preferred_hours`` (a remote supplier's: the hours it was ranked
    by, the user's waking hours) come first: the first slots inside them, or, if it has none
    there in the window, its first slots at any hour.
    """
    budget = budget or Budget()
    if local_hours is None and preferred_hours is not None:
        preferred = first_slots(
            supplier,
            window=window,
            now=now,
            user_tz=user_tz,
            local_hours=preferred_hours,
            limit=limit,
            budget=budget,
        )
        if preferred:
            return preferred
    found = budget.expanded(iter_bookable(supplier, window=window, now=now))
    if local_hours is not None:
        found = (s for s in found if local_hours.admits(s.start.astimezone(user_tz)))
    supplier_tz = zone(supplier.timezone)
    return [
        render(s, supplier_id=supplier.id, supplier_tz=supplier_tz, user_tz=user_tz)
        for s in islice(found, limit)
    ]


def recheck(supplier: Supplier, ref: SlotRef, *, text: str, now: datetime) -> SlotCheck:
    """Whether the slot an id names is still bookable with its supplier, and why not."""
    if ref.start < now:
        return SlotCheck(text, SlotStatus.PAST, "the slot has already started")
    if not _offered(supplier, ref):
        return SlotCheck(text, SlotStatus.NOT_OFFERED, "the supplier no longer offers this slot")
    notice = supplier.availability.min_notice
    if ref.start < now + notice:
        minutes = int(notice.total_seconds() // 60)
        return SlotCheck(text, SlotStatus.TOO_SOON, f"the supplier needs {minutes} minutes' notice")
    return SlotCheck(text, SlotStatus.BOOKABLE, "bookable")


def _offered(supplier: Supplier, ref: SlotRef) -> bool:
    """Whether the supplier's availability still holds exactly this slot."""
    around = Window(start=ref.start, end=ref.start + timedelta(seconds=1))
    found = expand(
        supplier.availability, tz=zone(supplier.timezone), window=around, not_before=ref.start
    )
    return any(s.minutes == ref.minutes for s in found)
