"""Microbenchmark: one supplier's slots, the Python engine (matcher.slots) against the numpy one.

    python -m bench.slot_engine [--feed data/suppliers.jsonl] [--repeat 5]

For every supplier of the feed, each step is timed ``--repeat`` times (the fastest kept, to
drop scheduler noise on a shared machine), and the medians and 90th percentiles over suppliers
are printed in microseconds:

- expand 7 days: every slot of a 7-day window, and with its first 10 rendered;
- first 10: what Match takes per supplier, the first 10 slots of that window;
- render 10: those 10 slots rendered for a user (ids, ISO strings, offsets) as
  ``RenderedSlot`` objects, and (new engine) as columns, all a caller building protobuf
  messages needs;
- Match's share: first 10 and render 10 together;
- the same with ``local_hours`` 18:00-21:00 in the user's zone, which skips most slots.

Both engines are asked the same thing and must answer the same (checked on every supplier).
Per-zone and per-availability caches are warm, as on a serving process; building a plan the
first time is timed apart.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from matcher.catalog import Supplier
from matcher.engine import arrays
from matcher.engine.bulkrender import RenderedColumns, admitting
from matcher.engine.bulkrender import render as bulk_render
from matcher.engine.zonetable import ZoneTable, zone_table
from matcher.feeds import load_feed
from matcher.slots import LocalHours, RenderedSlot, Slot, Window, iter_slots, render
from matcher.timezones import zone

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = Window(start=NOW, end=NOW + timedelta(days=7))
USER_ZONE = "America/New_York"
EVENING = LocalHours(start_minute=18 * 60, end_minute=21 * 60)
ROOT = Path(__file__).resolve().parent.parent


def fastest(call: Callable[[], Any], *, repeat: int) -> tuple[float, Any]:
    """The shortest of ``repeat`` runs of a call, in microseconds, and what it returned."""
    best, answer = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter_ns()
        answer = call()
        best = min(best, (time.perf_counter_ns() - start) / 1000)
    return best, answer


@dataclass(frozen=True)
class Case:
    """One supplier's slots asked of both engines, for a user in USER_ZONE."""

    supplier: Supplier
    limit: int
    tz: ZoneInfo
    table: ZoneTable
    user_tz: ZoneInfo
    user_table: ZoneTable

    @property
    def not_before(self) -> datetime:
        return NOW + self.supplier.availability.min_notice

    def old_expand(self) -> list[Slot]:
        a = self.supplier.availability
        return list(iter_slots(a, tz=self.tz, window=WINDOW, not_before=self.not_before))

    def new_expand(self) -> arrays.SlotArrays:
        a = self.supplier.availability
        return arrays.expand(a, table=self.table, window=WINDOW, not_before=self.not_before)

    def old_first(self, hours: LocalHours | None) -> list[Slot]:
        a = self.supplier.availability
        found = iter_slots(a, tz=self.tz, window=WINDOW, not_before=self.not_before)
        if hours is not None:
            found = (x for x in found if hours.admits(x.start.astimezone(self.user_tz)))
        return list(islice(found, self.limit))

    def new_first(self, hours: LocalHours | None) -> arrays.SlotArrays:
        return arrays.first_slots(
            self.supplier.availability,
            table=self.table,
            window=WINDOW,
            not_before=self.not_before,
            limit=self.limit,
            admit=None if hours is None else admitting(hours, user=self.user_table),
        )

    def old_render(self, slots: list[Slot]) -> list[RenderedSlot]:
        s = self.supplier
        return [
            render(x, supplier_id=s.id, supplier_tz=self.tz, user_tz=self.user_tz) for x in slots
        ]

    def new_columns(self, slots: arrays.SlotArrays) -> RenderedColumns:
        s = self.supplier
        return bulk_render(slots, supplier_id=s.id, supplier=self.table, user=self.user_table)

    def new_render(self, slots: arrays.SlotArrays) -> list[RenderedSlot]:
        return self.new_columns(slots).rows()


def measure(case: Case, *, repeat: int, record: Callable[[str, float], None]) -> None:
    """Times every step for one supplier, checking that both engines agree."""
    started = time.perf_counter_ns()
    arrays.Plans(1)(case.supplier.availability)
    record("plan (once per availability)", (time.perf_counter_ns() - started) / 1000)
    t, old_all = fastest(case.old_expand, repeat=repeat)
    record("expand 7 days: old", t)
    t, new_all = fastest(case.new_expand, repeat=repeat)
    record("expand 7 days: new", t)
    assert new_all.slots() == old_all, case.supplier.id
    k = case.limit
    t, _ = fastest(lambda: case.old_render(case.old_expand()[:k]), repeat=repeat)
    record(f"expand 7 days + render {k}: old", t)
    t, _ = fastest(lambda: case.new_render(case.new_expand().take(slice(0, k))), repeat=repeat)
    record(f"expand 7 days + render {k}: new", t)
    t, _ = fastest(lambda: case.new_columns(case.new_expand().take(slice(0, k))), repeat=repeat)
    record(f"expand 7 days + render {k}, columns: new", t)
    for label, hours in (("", None), (", 18-21h", EVENING)):
        t, old_some = fastest(lambda h=hours: case.old_first(h), repeat=repeat)
        record(f"first {k}{label}: old", t)
        t, new_some = fastest(lambda h=hours: case.new_first(h), repeat=repeat)
        record(f"first {k}{label}: new", t)
        t, old_shown = fastest(lambda o=old_some: case.old_render(o), repeat=repeat)
        record(f"render {k}{label}: old", t)
        t, new_shown = fastest(lambda n=new_some: case.new_render(n), repeat=repeat)
        record(f"render {k}{label}: new", t)
        assert new_shown == old_shown, case.supplier.id
        t, _ = fastest(lambda n=new_some: case.new_columns(n), repeat=repeat)
        record(f"render {k}{label}, columns only: new", t)
        t, _ = fastest(lambda h=hours: case.old_render(case.old_first(h)), repeat=repeat)
        record(f"first {k} + render{label} (Match's share): old", t)
        t, _ = fastest(lambda h=hours: case.new_render(case.new_first(h)), repeat=repeat)
        record(f"first {k} + render{label} (Match's share): new", t)
        t, _ = fastest(lambda h=hours: case.new_columns(case.new_first(h)), repeat=repeat)
        record(f"first {k} + render{label} (Match's share), columns: new", t)


def main(argv: list[str] | None = None) -> None:
    """Times both engines on every supplier of a feed and prints the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feed", type=Path, default=ROOT / "data" / "suppliers.jsonl")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--limit", type=int, default=10, help="slots Match takes per supplier")
    args = parser.parse_args(argv)
    suppliers = load_feed(args.feed).suppliers
    timings: dict[str, list[float]] = {}

    def record(step: str, micros: float) -> None:
        timings.setdefault(step, []).append(micros)

    for s in suppliers:
        case = Case(
            supplier=s,
            limit=args.limit,
            tz=zone(s.timezone),
            table=zone_table(s.timezone),
            user_tz=zone(USER_ZONE),
            user_table=zone_table(USER_ZONE),
        )
        measure(case, repeat=args.repeat, record=record)

    print(f"{len(suppliers)} suppliers of {args.feed.name}, user in {USER_ZONE}, window 7 days")
    print(f"{'step':<56} {'median µs':>10} {'p90 µs':>10}")
    for step, values in timings.items():
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"{step:<56} {statistics.median(values):>10.1f} {p90:>10.1f}")
    print("old / new, medians")
    for step in [s for s in timings if s.endswith(": old")]:
        old, new = statistics.median(timings[step]), statistics.median(timings[step[:-3] + "new"])
        print(f"{step[:-5]:<56} {old / new:>9.1f}x")


if __name__ == "__main__":
    main()
