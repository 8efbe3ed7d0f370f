"""Which of suppliers' slots a user can book now: the first ones in a window, and re-checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from matcher.engine.budget import SLOTS_PER_STEP, Budget
from matcher.engine.expansion import (
    MICROS,
    Ints,
    Plan,
    SlotArrays,
    expand,
    plan_of,
    slot_prefix,
    steady_slots,
)
from matcher.engine.rendering import Rendered, RenderedColumns, admitting, render_many, split
from matcher.engine.slot_ids import SlotRef
from matcher.engine.texts import Texts
from matcher.geo.zonetable import DAY, Flags, ZoneTable, zone_table
from matcher.instants import MICROSECOND, to_micros
from matcher.model import LocalHours, SlotCheck, SlotStatus, Supplier, Window

Admit = Callable[[SlotArrays], Flags]


def first_bookable(
    suppliers: Sequence[Supplier],
    *,
    window: Window,
    now: datetime,
    user_zone: str,
    local_hours: LocalHours | None,
    limit: int,
    budget: Budget | None = None,
    preferred: Sequence[LocalHours | None] | None = None,
) -> list[RenderedColumns]:
    """Each supplier's first ``limit`` bookable slots in the window and the user's hours,
    rendered for them: every supplier's at once, as if one after another.

    With no hours asked for, a supplier's ``preferred`` hours (a remote supplier's: the hours it
    was ranked by) come first: its first slots inside them or, if it has none there, its first
    slots at any hour. Every slot read on the way, in the hours or not, is charged to the
    ``budget`` supplier by supplier in order, as reading them one by one would: once it is
    spent, a supplier gets what it had found and those after it nothing.
    """
    user = zone_table(user_zone)
    window_start, window_end = to_micros(window.start), to_micros(window.end)
    context = _Context(
        window=window,
        now=now,
        now_at=to_micros(now),
        window_start=window_start,
        window_end=window_end,
        limit=limit,
        offsets={},
    )
    everyone = list(range(len(suppliers)))
    if budget is not None and budget.slots is not None and budget.slots <= 0:
        # nothing more may be read: the first supplier with a slot to read finds it spent
        if not budget.exhausted and any(_has_a_slot(s, context) for s in suppliers):
            budget.exhausted = True
        return split(_nothing(user), [0] * len(suppliers))
    main = _expanded(
        suppliers,
        everyone,
        context,
        admit=None if local_hours is None else admitting(local_hours, user=user),
    )
    chosen_pass = [main] * len(suppliers)  # the pass each supplier reads first
    if local_hours is None and preferred is not None:
        for hours in {h for h in preferred if h is not None}:
            asked = [k for k in everyone if preferred[k] == hours]
            first = _expanded(suppliers, asked, context, admit=admitting(hours, user=user))
            for k in asked:
                chosen_pass[k] = first
    if all(p is main for p in chosen_pass):  # one pass: charged at once
        cuts = _charged_at_once(main, budget=budget, limit=limit, suppliers=len(suppliers))
        return _rendered(suppliers, [(main, cuts)], user=user, limit=limit)
    charged = _charged(chosen_pass, main, budget=budget, limit=limit, order=everyone)
    passes: dict[int, tuple[_Expanded, Ints]] = {}  # id(pass) -> it, and each supplier's cut
    for k, (found, cut) in charged.items():
        cuts = passes.setdefault(id(found), (found, np.zeros(len(suppliers), dtype=np.int64)))[1]
        cuts[k] = cut
    return _rendered(suppliers, list(passes.values()), user=user, limit=limit)


@dataclass(frozen=True)
class _Context:
    """What every supplier's expansion shares."""

    window: Window
    now: datetime
    now_at: int
    window_start: int
    window_end: int
    limit: int
    offsets: dict[str, int | None]  # zone -> its one offset through the window, if any


@dataclass(frozen=True, eq=False)
class _Expanded:
    """One pass over some suppliers: each one's slots read in order (as far as needed), one
    supplier after another, whether the hours admit each, and each zone's offsets."""

    slots: SlotArrays
    owner: Ints  # the supplier (index into the call's list) of each slot
    admitted: Flags
    at_start: Ints  # the supplier zone's offset at each slot's start and end (seconds)
    at_end: Ints
    spans: dict[int, tuple[int, int]]  # supplier -> [first, last) of its slots
    run_start: Ints  # where, in ``slots``, each slot's supplier's slots start
    where: Ints  # the positions, in ``slots``, of the admitted slots


def _has_a_slot(supplier: Supplier, context: _Context) -> bool:
    """Whether a supplier has any slot in the window at all."""
    found, _ = slot_prefix(
        supplier.availability,
        table=zone_table(supplier.timezone),
        window=context.window,
        not_before=context.now + supplier.availability.min_notice,
        limit=1,
    )
    return len(found) > 0


def _expanded(
    suppliers: Sequence[Supplier], chosen: list[int], context: _Context, *, admit: Admit | None
) -> _Expanded:
    """Reads the chosen suppliers' slots: those whose zone keeps one offset all through the
    window (and who have no override in it) together, the others one by one."""
    plans: list[Plan] = []  # of the suppliers expanded together
    steady_offsets: list[int] = []
    keep_starts: list[int] = []
    steady_of: list[int] = []  # the supplier of each
    parts: list[tuple[int, SlotArrays, Flags, ZoneTable]] = []  # expanded alone
    for k in chosen:
        supplier = suppliers[k]
        availability = supplier.availability
        keep_start = max(
            context.window_start, context.now_at + availability.min_notice // MICROSECOND
        )
        if keep_start >= context.window_end:
            continue
        zone = supplier.timezone
        plan = plan_of(availability)
        if zone not in context.offsets:
            context.offsets[zone] = _steady_offset(
                zone_table(zone), context.window_start, context.window_end
            )
        offset = context.offsets[zone]
        if offset is not None and not _touched(plan, keep_start, context.window_end):
            plans.append(plan)
            steady_offsets.append(offset)
            keep_starts.append(keep_start)
            steady_of.append(k)
            continue
        table = zone_table(zone)
        found, admitted = slot_prefix(
            availability,
            table=table,
            window=context.window,
            not_before=context.now + availability.min_notice,
            limit=context.limit,
            admit=admit,
        )
        parts.append((k, found, admitted, table))
    if plans:
        slots, case = steady_slots(
            plans,
            offsets=steady_offsets,
            keep_starts=keep_starts,
            keep_end=context.window_end,
            cap=context.limit if admit is None else None,
        )
    else:
        slots, case = SlotArrays.of([]), np.empty(0, dtype=np.int64)
    owner = np.asarray(steady_of, dtype=np.int64)[case]
    at_start = at_end = np.asarray(steady_offsets, dtype=np.int64)[case]  # one offset all along
    admitted = np.ones(len(slots), dtype=bool) if admit is None else admit(slots)
    if parts:
        slots = SlotArrays.joined([slots, *(f for _, f, _, _ in parts)])
        owner = np.concatenate([owner, *(np.full(len(f), k) for k, f, _, _ in parts)])
        admitted = np.concatenate([admitted, *(a for _, _, a, _ in parts)])
        at_start = np.concatenate(
            [at_start, *(t.offset_at(f.start // MICROS) for _, f, _, t in parts)]
        )
        at_end = np.concatenate([at_end, *(t.offset_at(f.end // MICROS) for _, f, _, t in parts)])
        order = np.argsort(owner, kind="stable")
        slots, owner, admitted = slots.take(order), owner[order], admitted[order]
        at_start, at_end = at_start[order], at_end[order]
    new_run = np.ones(len(owner), dtype=bool)
    new_run[1:] = owner[1:] != owner[:-1]
    firsts = np.flatnonzero(new_run)
    bounds = firsts.tolist()
    ends = [*bounds[1:], len(owner)] if bounds else []
    spans = {k: (a, b) for k, a, b in zip(owner[firsts].tolist(), bounds, ends, strict=True)}
    run_start = firsts[np.cumsum(new_run) - 1]
    return _Expanded(
        slots, owner, admitted, at_start, at_end, spans, run_start, np.flatnonzero(admitted)
    )


def _charged_at_once(
    found: _Expanded, *, budget: Budget | None, limit: int, suppliers: int
) -> Ints:
    """``_charged`` for suppliers who all read one pass, worked out for all of them at once:
    each reads as much as it needs while the budget lasts, the one it runs out on reads what
    is left, those after it nothing."""
    cuts = np.full(suppliers, _READ_ALL, dtype=np.int64)
    if budget is None:
        return cuts
    needed = np.zeros(suppliers, dtype=np.int64)
    for k in found.spans:
        needed[k] = _read_up_to(found, k, limit)
    read = needed
    if budget.slots is not None:
        spent = np.cumsum(needed)
        over = spent > budget.slots
        if over.any():
            first = int(np.argmax(over))
            cuts[first] = budget.slots - (int(spent[first]) - int(needed[first]))
            cuts[first + 1 :] = 0
            read = np.minimum(needed, cuts)
            budget.exhausted = True
        budget.slots = max(budget.slots - int(spent[-1]), 0) if suppliers else budget.slots
    for _ in range(int((read // SLOTS_PER_STEP).sum())):
        budget.step()  # reading one by one asks, now and then, whether the caller waits
    return cuts


def _charged(
    chosen_pass: list[_Expanded],
    main: _Expanded,
    *,
    budget: Budget | None,
    limit: int,
    order: list[int],
) -> dict[int, tuple[_Expanded, int]]:
    """For each supplier in order, the pass its slots come from and how many of that pass's
    slots it may read (``_READ_ALL`` when the budget does not stop it), charging the budget."""
    left = None if budget is None else budget.slots
    found: dict[int, tuple[_Expanded, int]] = {}
    for k in order:
        first = chosen_pass[k]
        for this in [main] if first is main else [first, main]:
            needed = _read_up_to(this, k, limit)
            cut = _READ_ALL
            if budget is not None and left is not None:
                if needed > left:
                    cut, needed = left, left
                    budget.exhausted = True
                left -= needed
            if budget is not None:  # reading one by one asks, now and then, whether they wait
                for _ in range(needed // SLOTS_PER_STEP):
                    budget.step()
            found[k] = (this, cut)
            if this is main or _admitted_before(this, k, cut):
                break
    if budget is not None:
        budget.slots = left
    return found


#: A cut that keeps every slot a pass read for a supplier.
_READ_ALL = 1 << 62


def _read_up_to(found: _Expanded, k: int, limit: int) -> int:
    """How many of a supplier's slots reading them one by one takes to find its first ``limit``
    admitted ones (all of them, if it has fewer)."""
    start, stop = found.spans.get(k, (0, 0))
    if not limit:
        return 0
    first = int(found.where.searchsorted(start))
    if first + limit - 1 < len(found.where) and found.where[first + limit - 1] < stop:
        return int(found.where[first + limit - 1]) - start + 1
    return stop - start


def _admitted_before(found: _Expanded, k: int, cut: int) -> bool:
    """Whether any of a supplier's first ``cut`` slots of a pass is admitted."""
    start, stop = found.spans.get(k, (0, 0))
    first = int(found.where.searchsorted(start))
    return first < len(found.where) and found.where[first] < min(stop, start + cut)


def _rendered(
    suppliers: Sequence[Supplier],
    passes: list[tuple[_Expanded, Ints]],
    *,
    user: ZoneTable,
    limit: int,
) -> list[RenderedColumns]:
    """The slots picked for each supplier from each pass (its first ``limit`` admitted within
    its cut there, zero for a supplier served by another pass), all rendered in one pass, one
    supplier's after another."""
    parts = [_picked(found, cuts, limit=limit) for found, cuts in passes]
    parts = [(found, taken) for found, taken in parts if len(taken)]
    if not parts:
        return split(_nothing(user), [0] * len(suppliers))
    owner = np.concatenate([found.owner[taken] for found, taken in parts])
    order = np.argsort(owner, kind="stable") if len(parts) > 1 else slice(None)
    slots = SlotArrays.joined([found.slots.take(taken) for found, taken in parts]).take(order)
    rendered = render_many(
        slots,
        supplier_ids=Texts.of([s.id.encode() for s in suppliers]).take(owner[order]),
        supplier_offsets=np.concatenate([f.at_start[taken] for f, taken in parts])[order],
        supplier_end_offsets=np.concatenate([f.at_end[taken] for f, taken in parts])[order],
        user=user,
    )
    return split(rendered, np.bincount(owner, minlength=len(suppliers)).tolist())


def _picked(found: _Expanded, cuts: Ints, *, limit: int) -> tuple[_Expanded, Ints]:
    """The positions, in a pass, of each supplier's first ``limit`` admitted slots among the
    first ``cuts[supplier]`` it read (none for a supplier the pass does not serve)."""
    starts = found.run_start
    admitted = np.cumsum(found.admitted)
    before: Ints = (admitted - found.admitted)[starts]  # admitted before the supplier's first
    rank = admitted - before - 1  # among the supplier's admitted slots
    position = np.arange(len(starts)) - starts
    keep = found.admitted & (rank < limit) & (position < cuts[found.owner])
    return found, np.flatnonzero(keep)


def _nothing(user: ZoneTable) -> Rendered:
    """No slots, rendered."""
    empty = np.empty(0, dtype=np.int64)
    return render_many(
        SlotArrays.of([]),
        supplier_ids=Texts.of([]),
        supplier_offsets=empty,
        supplier_end_offsets=empty,
        user=user,
    )


def _touched(plan: Plan, start: int, end: int) -> bool:
    """Whether a real-time override covers any instant of [start, end) (microseconds): one
    that does not changes no slot there."""
    return bool(plan.overrides) and any(o.start < end and start < o.end for o in plan.overrides)


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
