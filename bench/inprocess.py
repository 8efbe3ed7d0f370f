"""In-process latencies: Catalog.match against the brute-force baseline, and zone resolution."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from bench.baseline import BruteForce
from bench.measure import summary
from matcher import queries
from matcher.engine.catalog import Catalog
from matcher.geo.timezones import TimezoneResolver, state_at
from matcher.model import MatchQuery, Point
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
    """Match, the baseline and ResolveTimezone's work, each over every point."""
    brute = BruteForce(catalog.suppliers)
    todo = match_queries(points, resolver=resolver, now=now)
    for q in match_queries(warmup, resolver=resolver, now=now):
        catalog.match(q, now=now, limit=LIMIT)
        brute.match(q, now=now, limit=LIMIT)
    match, matched = timed([lambda q=q: catalog.match(q, now=now, limit=LIMIT) for q in todo])
    baseline, scanned = timed([lambda q=q: brute.match(q, now=now, limit=LIMIT) for q in todo])
    resolve, _ = timed([lambda p=p: state_at(resolver.zone_at(p), at=now) for p in points])
    return {
        "match": summary(match),
        "brute_force": summary(baseline),
        "resolve_timezone": summary(resolve),
        "mean_results": {
            "match": statistics.fmean(map(len, matched)),
            "brute_force": statistics.fmean(map(len, scanned)),
        },
    }
