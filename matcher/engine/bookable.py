"""Which of suppliers' slots a user can book now: the first ones in a window, and re-checks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np

from matcher.engine.expansion import (
    MICROS,
    Plan,
    SlotArrays,
    expand,
    first_slots,
    plan_of,
    steady_first_slots,
)
from matcher.engine.rendering import RenderedColumns, admitting, render_many, split
from matcher.engine.slot_ids import SlotRef
from matcher.engine.texts import Texts
from matcher.geo.zonetable import DAY, ZoneTable, zone_table
from matcher.instants import MICROSECOND, to_micros
from matcher.model import LocalHours, SlotCheck, SlotStatus, Supplier, Window


def first_bookable(
    suppliers: Sequence[Supplier],
    *,
    window: Window,
    now: datetime,
    user_zone: str,
    local_hours: LocalHours | None,
    limit: int,
) -> list[RenderedColumns]:
    """Each supplier's first ``limit`` bookable slots in the window and the user's hours,
    rendered for them: every supplier's at once.

    Suppliers whose zone keeps one offset all through the window and who have no real-time
    override are expanded together (``steady_first_slots``); the others one by one. Then all
    the slots are rendered in one pass.
    """
    user = zone_table(user_zone)
    admit = None if local_hours is None else admitting(local_hours, user=user)
    window_start, window_end, now_at = (
        to_micros(window.start),
        to_micros(window.end),
        to_micros(now),
    )
    offsets: dict[str, int | None] = {}  # zone -> its one offset through the window, if any
    plans: list[Plan] = []  # of the suppliers expanded together
    steady_offsets: list[int] = []
    keep_starts: list[int] = []
    steady_of: list[int] = []  # the supplier of each
    parts: list[tuple[int, SlotArrays, ZoneTable]] = []  # (supplier, slots) expanded alone
    for k, supplier in enumerate(suppliers):
        availability = supplier.availability
        keep_start = max(window_start, now_at + availability.min_notice // MICROSECOND)
        if keep_start >= window_end:
            continue
        table = zone_table(supplier.timezone)
        plan = plan_of(availability)
        if supplier.timezone not in offsets:
            offsets[supplier.timezone] = _steady_offset(table, window_start, window_end)
        offset = offsets[supplier.timezone]
        if offset is not None and not plan.overrides:
            plans.append(plan)
            steady_offsets.append(offset)
            keep_starts.append(keep_start)
            steady_of.append(k)
            continue
        found = first_slots(
            availability,
            table=table,
            window=window,
            not_before=now + availability.min_notice,
            limit=limit,
            admit=admit,
        )
        parts.append((k, found, table))
    slots, case = _NOTHING
    if plans:
        slots, case = steady_first_slots(
            plans,
            offsets=steady_offsets,
            keep_starts=keep_starts,
            keep_end=window_end,
            limit=limit,
            admit=admit,
        )
    owner = np.asarray(steady_of, dtype=np.int64)[case]
    at_start = at_end = np.asarray(steady_offsets, dtype=np.int64)[case]  # one offset all along
    if parts:
        slots = SlotArrays.joined([slots, *(found for _, found, _ in parts)])
        owner = np.concatenate([owner, *(np.full(len(f), k) for k, f, _ in parts)])
        at_start = np.concatenate(
            [at_start, *(t.offset_at(f.start // MICROS) for _, f, t in parts)]
        )
        at_end = np.concatenate([at_end, *(t.offset_at(f.end // MICROS) for _, f, t in parts)])
        order = np.argsort(owner, kind="stable")
        slots, owner = slots.take(order), owner[order]
        at_start, at_end = at_start[order], at_end[order]
    rendered = render_many(
        slots,
        supplier_ids=Texts.of([s.id.encode() for s in suppliers]).take(owner),
        supplier_offsets=at_start,
        supplier_end_offsets=at_end,
        user=user,
    )
    return split(rendered, np.bincount(owner, minlength=len(suppliers)).tolist())


_NOTHING = (SlotArrays.of([]), np.empty(0, dtype=np.int64))


def _steady_offset(table: ZoneTable, window_start: int, window_end: int) -> int | None:
    """The zone's one offset through the local days of a window and two around them, if it
    keeps one (as ``expansion._expand_days`` asks of a run of days)."""
    start, end = window_start // MICROS, window_end // MICROS
    first = (start + table.offset_of(start)) // DAY - 1
    last = (end + table.offset_of(end)) // DAY + 1
    return table.steady((first - 2) * DAY, until=(last + 3) * DAY)


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
        supplier.availability,
        table=zone_table(supplier.timezone),
        window=around,
        not_before=ref.start,
    )
    return bool((found.minutes == ref.minutes).any())
