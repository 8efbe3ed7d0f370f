"""Which of one supplier's slots a user can book now: the first ones in a window, and re-checks."""

from __future__ import annotations

from datetime import datetime, timedelta

from matcher.engine.expansion import SlotArrays, expand
from matcher.engine.expansion import first_slots as first_arrays
from matcher.engine.rendering import RenderedColumns, admitting, render
from matcher.engine.slot_ids import SlotRef
from matcher.geo.zonetable import zone_table
from matcher.model import LocalHours, SlotCheck, SlotStatus, Supplier, Window


def first_slots(
    supplier: Supplier,
    *,
    window: Window,
    now: datetime,
    user_zone: str,
    local_hours: LocalHours | None,
    limit: int,
) -> RenderedColumns:
    """The first ``limit`` bookable slots in the window and the user's hours, rendered for them."""
    table, user = zone_table(supplier.timezone), zone_table(user_zone)
    found = first_arrays(
        supplier.availability,
        table=table,
        window=window,
        not_before=now + supplier.availability.min_notice,
        limit=limit,
        admit=None if local_hours is None else admitting(local_hours, user=user),
    )
    return render(found, supplier_id=supplier.id, supplier=table, user=user)


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
    found: SlotArrays = expand(
        supplier.availability,
        table=zone_table(supplier.timezone),
        window=around,
        not_before=ref.start,
    )
    return bool((found.minutes == ref.minutes).any())
