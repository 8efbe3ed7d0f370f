"""In-process latencies: Catalog.match (the default query, and in person only), its nearby step
alone, the in-process floor of that step, the brute-force baseline, and zone resolution."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from bench.baseline import BruteForce
from bench.floor import TOP, Floor
from bench.measure import summary
from matcher import queries
from matcher.engine.catalog import Catalog
from matcher.geo.timezones import TimezoneResolver, state_at
from matcher.model import MatchQuery, Modality, Point
from matcher.queries import LocationInput, WindowInput
from matcher.settings import Limits

T = TypeVar("T")
LIMIT = 21  # a 20-result page and one more, as the servicer asks


def timed(calls: Sequence[Callable[[], T]]) -> tuple[list[float], list[T]]:
    """The wall time of each call, in seconds, and what each returned."""
    durations, answers = [], []
    for call in calls:
        start = time.perf_counter()
        answers.append(call())
        durations.append(time.perf_counter() - start)
    return durations, answers


def match_queries(
    points: Sequence[Point], *, resolver: TimezoneResolver, now: datetime
) -> list[MatchQuery]:
    """The default Match (25 km, 7 days, 10 slots a supplier) at each coarsened user point."""
    limits = Limits()
    window = queries.window(WindowInput(), now=now, limits=limits, field="window")
    found = []
    for p in points:
        where = LocationInput(lat_lng=(p.lat, p.lng))
        user = queries.locate(where, resolver=resolver, limits=limits, field="location")
        found.append(MatchQuery(point=user.point, user_zone=user.zone, window=window))
    return found


def run(
    catalog: Catalog,
    *,
    resolver: TimezoneResolver,
    points: Sequence[Point],
    warmup: Sequence[Point],
    now: datetime,
) -> dict[str, object]:
    """Match, its nearby step, the floor, the baseline and ResolveTimezone's work, each over
    every point."""
    brute = BruteForce(catalog.suppliers)
    todo = match_queries(points, resolver=resolver, now=now)
    in_person = [replace(q, modalities=frozenset({Modality.IN_PERSON})) for q in todo]
    floor = Floor(catalog.suppliers, radius_km=todo[0].radius_km if todo else 25.0)
    for q in match_queries(warmup, resolver=resolver, now=now):
        catalog.match(q, now=now, limit=LIMIT)
        catalog.nearest(q, limit=LIMIT)
        brute.match(q, now=now, limit=LIMIT)
        if q.point is not None:
            floor.nearest(q.point)
    match, matched = timed([lambda q=q: catalog.match(q, now=now, limit=LIMIT) for q in todo])
    only, _ = timed([lambda q=q: catalog.match(q, now=now, limit=LIMIT) for q in in_person])
    nearby, near = timed([lambda q=q: catalog.nearest(q, limit=LIMIT) for q in todo])
    bottom, floored = timed([lambda q=q: floor.nearest(q.point) for q in todo if q.point])
    baseline, scanned = timed([lambda q=q: brute.match(q, now=now, limit=LIMIT) for q in todo])
    resolve, _ = timed([lambda p=p: state_at(resolver.zone_at(p), at=now) for p in points])
    return {
        "match": summary(match),
        "match_in_person": summary(only),
        "nearby": summary(nearby),
        "floor": summary(bottom),
        "brute_force": summary(baseline),
        "resolve_timezone": summary(resolve),
        "mean_results": {
            "match": statistics.fmean(map(len, matched)),
            "nearby": statistics.fmean(map(len, near)),
            "floor": statistics.fmean(map(len, floored)),
            "brute_force": statistics.fmean(map(len, scanned)),
        },
        "floor_agreement": floor_agreement(catalog, in_person, floored),
    }


def floor_agreement(
    catalog: Catalog, queries: Sequence[MatchQuery], floored: Sequence[object]
) -> float:
    """The share of the floor's suppliers that the nearby step, asked in person only, lists
    among as many of its first: the same answer but for haversine against geodesic order."""
    agree = total = 0
    for q, found in zip(queries, floored, strict=False):
        ours = {c.position for c in catalog.nearest(q, limit=TOP)}
        theirs = set(map(int, found))  # type: ignore[call-overload]
        agree += len(ours & theirs)
        total += len(theirs)
    return agree / total if total else 1.0
