"""The service's slot engine with the reference's signatures: ``Slot`` values in and out."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from matcher.engine.expansion import SlotArrays
from matcher.engine.expansion import expand as expand_arrays
from matcher.engine.rendering import render as render_columns
from matcher.geo.zonetable import zone_table
from matcher.model import Availability, RenderedSlot, Slot, Window


def expand(
    availability: Availability, *, tz: ZoneInfo, window: Window, not_before: datetime
) -> list[Slot]:
    """The service's engine, its answer as ``Slot`` values: the policy these tests state."""
    table = zone_table(tz.key)
    return expand_arrays(availability, table=table, window=window, not_before=not_before).slots()


def render(
    slot: Slot, *, supplier_id: str, supplier_tz: ZoneInfo, user_tz: ZoneInfo
) -> RenderedSlot:
    """The service's rendering of one slot."""
    (shown,) = render_columns(
        SlotArrays.of([slot]),
        supplier_id=supplier_id,
        supplier=zone_table(supplier_tz.key),
        user=zone_table(user_tz.key),
    )
    return shown
