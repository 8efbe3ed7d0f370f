"""Slots rendered for a user in bulk: ids, both sides' local times and how their zones differ.

Every slot of a Match (or a ListSlots) is rendered in one pass: both zones' offsets at each slot
come from one searchsorted per zone, and the strings (``isoformat`` local times, slot ids) are
made as rows of byte matrices (``matcher.engine.texts``), which a wire format takes as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np
import numpy.typing as npt

from matcher.engine.expansion import MICROS, Ints, SlotArrays
from matcher.engine.slot_ids import slot_ids
from matcher.engine.texts import Texts, iso_local
from matcher.geo.zonetable import DAY, Flags, ZoneTable
from matcher.instants import from_micros
from matcher.model import LocalHours, RenderedSlot


@dataclass(frozen=True, eq=False)
class Rendered:
    """Slots as a user sees them, field by field: ``RenderedSlot``'s fields as columns."""

    slots: SlotArrays  # start and end in microseconds since the epoch, places
    slot_ids: Texts
    user_local_start: Texts
    supplier_local_start: Texts
    user_local_end: Texts
    supplier_local_end: Texts
    offset_difference_minutes: Ints
    day_shift: Ints

    def __len__(self) -> int:
        return len(self.slots)

    def take(self, chosen: slice | npt.NDArray[np.int64]) -> Rendered:
        """The slots a slice or an index picks."""
        return Rendered(
            slots=self.slots.take(chosen),
            slot_ids=self.slot_ids.take(chosen),
            user_local_start=self.user_local_start.take(chosen),
            supplier_local_start=self.supplier_local_start.take(chosen),
            user_local_end=self.user_local_end.take(chosen),
            supplier_local_end=self.supplier_local_end.take(chosen),
            offset_difference_minutes=self.offset_difference_minutes[chosen],
            day_shift=self.day_shift[chosen],
        )


class RenderedColumns(Sequence[RenderedSlot]):
    """One supplier's run of slots in a ``Rendered`` batch (``every[span]``), and a sequence
    of ``RenderedSlot`` made on demand for callers that want them one by one."""

    __slots__ = ("_rows", "every", "span")

    def __init__(self, every: Rendered, span: slice) -> None:
        self.every = every
        self.span = span
        self._rows: list[RenderedSlot] | None = None

    @property
    def columns(self) -> Rendered:
        """This run's columns alone."""
        return self.every.take(self.span)

    def __len__(self) -> int:
        return int(self.span.stop - self.span.start)

    @overload
    def __getitem__(self, k: int) -> RenderedSlot: ...

    @overload
    def __getitem__(self, k: slice) -> list[RenderedSlot]: ...

    def __getitem__(self, k: int | slice) -> RenderedSlot | list[RenderedSlot]:
        return self.rows()[k]

    def __iter__(self) -> Iterator[RenderedSlot]:
        return iter(self.rows())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RenderedColumns):
            return self.rows() == other.rows()
        if isinstance(other, list | tuple):
            return self.rows() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal by value, like the list it stands for

    def __repr__(self) -> str:
        return f"RenderedColumns({self.rows()!r})"

    @property
    def first_start(self) -> int:
        """The first slot's start, in microseconds since the epoch (there must be one)."""
        return int(self.every.slots.start[self.span.start])

    def rows(self) -> list[RenderedSlot]:
        """As ``RenderedSlot`` values."""
        if self._rows is None:
            self._rows = _rows(self.columns)
        return self._rows


def _rows(c: Rendered) -> list[RenderedSlot]:
    """Columns as ``RenderedSlot`` values."""
    s = c.slots
    return [
        RenderedSlot(
            slot_id=slot_id,
            start=from_micros(start),
            end=from_micros(end),
            user_local_start=user,
            supplier_local_start=supplier,
            user_local_end=user_end,
            supplier_local_end=supplier_end,
            offset_difference_minutes=difference,
            day_shift=shift,
            spots_total=total,
            spots_open=spots_open,
        )
        for (
            slot_id,
            start,
            end,
            user,
            supplier,
            user_end,
            supplier_end,
            difference,
            shift,
            total,
            spots_open,
        ) in zip(
            c.slot_ids.strings(),
            s.start.tolist(),
            s.end.tolist(),
            c.user_local_start.strings(),
            c.supplier_local_start.strings(),
            c.user_local_end.strings(),
            c.supplier_local_end.strings(),
            c.offset_difference_minutes.tolist(),
            c.day_shift.tolist(),
            s.spots_total.tolist(),
            s.spots_open.tolist(),
            strict=True,
        )
    ]


def render(
    slots: SlotArrays, *, supplier_id: str, supplier: ZoneTable, user: ZoneTable
) -> RenderedColumns:
    """Renders one supplier's slots for a user; each offset difference is the one at that
    slot's instant."""
    every = render_many(
        slots,
        supplier_ids=Texts.of([supplier_id.encode()]).take(np.zeros(len(slots), dtype=np.intp)),
        supplier_offsets=supplier.offset_at(slots.start // MICROS),
        supplier_end_offsets=supplier.offset_at(slots.end // MICROS),
        user=user,
    )
    return RenderedColumns(every, slice(0, len(slots)))


def render_many(
    slots: SlotArrays,
    *,
    supplier_ids: Texts,
    supplier_offsets: Ints,
    supplier_end_offsets: Ints,
    user: ZoneTable,
) -> Rendered:
    """Renders slots of many suppliers for a user: each slot's supplier id and the supplier
    zone's offsets at its start and its end (seconds) are given row by row."""
    n = len(slots)
    instants = np.concatenate([slots.start, slots.end])  # every start, then every end
    seconds, fraction = np.divmod(instants, MICROS)
    user_offsets = user.offset_at(seconds)
    offsets = np.concatenate(
        [user_offsets[:n], supplier_offsets, user_offsets[n:], supplier_end_offsets]
    )
    seconds, fraction = (
        np.tile(seconds.reshape(2, n), 2).ravel(),
        np.tile(fraction.reshape(2, n), 2).ravel(),
    )
    # user start, supplier start, user end, supplier end: all four strings in one pass
    local = iso_local(seconds + offsets, fraction, offsets)
    user_local, supplier_local = seconds[:n] + user_offsets[:n], seconds[:n] + supplier_offsets
    return Rendered(
        slots=slots,
        slot_ids=slot_ids(supplier_ids, seconds=seconds[:n], minutes=slots.minutes),
        user_local_start=local.take(slice(0, n)),
        supplier_local_start=local.take(slice(n, 2 * n)),
        user_local_end=local.take(slice(2 * n, 3 * n)),
        supplier_local_end=local.take(slice(3 * n, 4 * n)),
        offset_difference_minutes=(supplier_offsets - user_offsets[:n]) // 60,
        day_shift=supplier_local // DAY - user_local // DAY,
    )


def split(every: Rendered, counts: Sequence[int]) -> list[RenderedColumns]:
    """Consecutive runs of ``counts`` slots each."""
    ends = np.cumsum(counts).tolist()
    return [
        RenderedColumns(every, slice(end - n, end)) for end, n in zip(ends, counts, strict=True)
    ]


def admitting(hours: LocalHours, *, user: ZoneTable) -> Callable[[SlotArrays], Flags]:
    """``hours.admits`` on the user's local start of each slot, as a mask."""

    def admit(slots: SlotArrays) -> Flags:
        seconds = slots.start // MICROS
        minute = (seconds + user.offset_at(seconds)) // 60 % 1440
        if hours.start_minute <= hours.end_minute:
            return (hours.start_minute <= minute) & (minute < hours.end_minute)
        return (minute >= hours.start_minute) | (minute < hours.end_minute)

    return admit
