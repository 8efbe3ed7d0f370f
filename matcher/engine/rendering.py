"""A slot as a user sees it: both sides' local times and how their zones differ at its instant."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from matcher.engine.slot_ids import slot_id
from matcher.model import RenderedSlot, Slot


def render(
    slot: Slot, *, supplier_id: str, supplier_tz: ZoneInfo, user_tz: ZoneInfo
) -> RenderedSlot:
    """Renders a slot for a user; the offset difference is the one at this slot's instant."""
    user_local = slot.start.astimezone(user_tz)
    supplier_local = slot.start.astimezone(supplier_tz)
    user_end = slot.end.astimezone(user_tz)
    supplier_end = slot.end.astimezone(supplier_tz)
    difference = offset_seconds(supplier_local) - offset_seconds(user_local)
    return RenderedSlot(
        slot_id=slot_id(supplier_id=supplier_id, slot=slot),
        start=slot.start,
        end=slot.end,
        user_local_start=user_local.isoformat(),
        supplier_local_start=supplier_local.isoformat(),
        user_local_end=user_end.isoformat(),
        supplier_local_end=supplier_end.isoformat(),
        offset_difference_minutes=difference // 60,
        day_shift=(supplier_local.date() - user_local.date()).days,
        spots_total=slot.spots_total,
        spots_open=slot.spots_open,
    )


def offset_seconds(local: datetime) -> int:
    """The UTC offset of an aware datetime, in whole seconds."""
    offset = local.utcoffset()
    assert offset is not None  # only called on aware datetimes
    return int(offset.total_seconds())
