"""Slots rendered for a user in bulk: the same ids, strings and numbers as ``matcher.slots.render``.

Both zones' offsets at every slot come from one searchsorted each; local times are written by
numpy's ``datetime_as_string`` and given the offset suffix ``datetime.isoformat`` would write,
made once per offset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from matcher.engine.arrays import MICROS, Flags, Ints, SlotArrays, instant
from matcher.engine.zonetable import DAY, ZoneTable
from matcher.slots import LocalHours, RenderedSlot, _encode_slot_id


@dataclass(frozen=True, eq=False)
class RenderedArrays:
    """Slots as a user sees them, field by field: ``RenderedSlot``'s fields as columns."""

    slot_ids: list[str]
    slots: SlotArrays
    user_local_start: list[str]
    supplier_local_start: list[str]
    offset_difference_minutes: Ints
    day_shift: Ints

    def __len__(self) -> int:
        return len(self.slot_ids)

    def rows(self) -> list[RenderedSlot]:
        """As ``RenderedSlot`` values."""
        s = self.slots
        return [
            RenderedSlot(
                slot_id=slot_id,
                start=instant(start),
                end=instant(end),
                user_local_start=user,
                supplier_local_start=supplier,
                offset_difference_minutes=difference,
                day_shift=shift,
                spots_total=total,
                spots_open=spots_open,
            )
            for slot_id, start, end, user, supplier, difference, shift, total, spots_open in zip(
                self.slot_ids,
                s.start.tolist(),
                s.end.tolist(),
                self.user_local_start,
                self.supplier_local_start,
                self.offset_difference_minutes.tolist(),
                self.day_shift.tolist(),
                s.spots_total.tolist(),
                s.spots_open.tolist(),
                strict=True,
            )
        ]


def render(
    slots: SlotArrays, *, supplier_id: str, supplier: ZoneTable, user: ZoneTable
) -> RenderedArrays:
    """Renders slots for a user; each offset difference is the one at that slot's instant."""
    seconds = slots.start // MICROS
    user_offset = user.offset_at(seconds)
    supplier_offset = supplier.offset_at(seconds)
    return RenderedArrays(
        slot_ids=slot_ids(slots, supplier_id=supplier_id),
        slots=slots,
        user_local_start=local_iso(slots.start, offsets=user_offset),
        supplier_local_start=local_iso(slots.start, offsets=supplier_offset),
        offset_difference_minutes=(supplier_offset - user_offset) // 60,
        day_shift=(seconds + supplier_offset) // DAY - (seconds + user_offset) // DAY,
    )


def slot_ids(slots: SlotArrays, *, supplier_id: str) -> list[str]:
    """``matcher.slots.slot_id`` of each slot."""
    epochs = (slots.start // MICROS).tolist()
    if (slots.start % MICROS).any():  # as ``int(start.timestamp())``: true division, rounded
        epochs = [int(us / MICROS) for us in slots.start.tolist()]
    return [
        _encode_slot_id(supplier_id, epoch, minutes)
        for epoch, minutes in zip(epochs, slots.minutes.tolist(), strict=True)
    ]


def local_iso(starts: Ints, *, offsets: Ints) -> list[str]:
    """``datetime.isoformat()`` of each instant (microseconds) at a UTC offset (seconds)."""
    walls = starts + offsets * MICROS
    whole = not (walls % MICROS).any()
    stamps = (walls // MICROS).astype("datetime64[s]") if whole else walls.astype("datetime64[us]")
    text = np.datetime_as_string(stamps)
    if not whole:  # isoformat writes microseconds only where there are some
        text = np.array([t.removesuffix(".000000") for t in text.tolist()])
    return [t + _suffix(o) for t, o in zip(text.tolist(), offsets.tolist(), strict=True)]


@lru_cache(maxsize=256)
def _suffix(offset: int) -> str:
    """A UTC offset in seconds as ``isoformat`` writes it: ±HH:MM, with :SS when needed."""
    sign = "-" if offset < 0 else "+"
    hours, rest = divmod(abs(offset), 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}{hours:02d}:{minutes:02d}"
    return f"{text}:{seconds:02d}" if seconds else text


def admitting(hours: LocalHours, *, user: ZoneTable) -> Callable[[SlotArrays], Flags]:
    """``hours.admits`` on the user's local start of each slot, as a mask."""

    def admit(slots: SlotArrays) -> Flags:
        seconds = slots.start // MICROS
        minute = (seconds + user.offset_at(seconds)) // 60 % 1440
        if hours.start_minute <= hours.end_minute:
            return (hours.start_minute <= minute) & (minute < hours.end_minute)
        return (minute >= hours.start_minute) | (minute < hours.end_minute)

    return admit
