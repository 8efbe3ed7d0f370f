"""Remote ranking: cached scores and order equal a fresh count at every instant and hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from matcher.engine import remote
from matcher.engine.remote import RemoteRanker, daily_histogram
from matcher.geo.timezones import utc_offset_seconds
from matcher.model import Availability, LocalHours, WeeklyRule

ZONES = ("America/New_York", "Europe/London", "Asia/Kolkata", "Australia/Lord_Howe", "UTC")
RULES = (
    (WeeklyRule(frozenset(range(5)), 8 * 60, 18 * 60, 30),),
    (WeeklyRule(frozenset({5, 6}), 20 * 60, 23 * 60, 45),),
    (WeeklyRule(frozenset(range(7)), 0, 24 * 60, 60),),
    (),
)


def fresh_scores(
    zones: list[str], rules: list[int], *, user_zone: str, hours: LocalHours, at: datetime
) -> list[float]:
    """Each supplier's weekly slot starts in the user's hours, counted from scratch."""
    user = utc_offset_seconds(user_zone, at=at) // 60
    found = []
    for zone, kind in zip(zones, rules, strict=True):
        shift = utc_offset_seconds(zone, at=at) // 60 - user
        total = 0.0
        for rule in RULES[kind]:
            for minute in rule.minutes:
                middle = minute // 60 * 60 + 30
                local = datetime(2000, 1, 1) + timedelta(minutes=(middle - shift) % 1440)
                total += len(rule.days) * hours.admits(local)
        found.append(total)
    return found


@pytest.mark.parametrize("top", [1024, 7], ids=["all-cached", "most-partitioned"])
@pytest.mark.parametrize("user_zone", ["America/Los_Angeles", "Europe/Paris", "Asia/Kathmandu"])
def test_rankings_equal_a_fresh_count_across_offset_changes(
    user_zone: str, top: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(remote, "TOP", top)
    rng = np.random.default_rng(3)
    zones = [ZONES[k] for k in rng.integers(0, len(ZONES), 400)]
    rules = rng.integers(0, len(RULES), 400).tolist()
    histograms = [daily_histogram(Availability(weekly=RULES[k])) for k in rules]
    ranker = RemoteRanker(list(range(400)), zones, histograms)
    by_position = np.empty(400, dtype=np.int64)
    by_position[ranker.positions] = np.arange(400)
    start = datetime(2027, 3, 10, tzinfo=UTC)
    instants = [start + timedelta(hours=7 * k, minutes=13 * k) for k in range(40)]
    instants += [datetime(2027, 4, 4, 15, 59, 59, tzinfo=UTC), datetime(2027, 4, 4, 16, tzinfo=UTC)]
    for at in instants + instants[::-1]:  # cached rankings reused, and rebuilt, in any order
        for hours in (LocalHours(8 * 60, 20 * 60), LocalHours(22 * 60, 6 * 60)):
            expected = fresh_scores(zones, rules, user_zone=user_zone, hours=hours, at=at)
            ranking = ranker.ranking(user_zone=user_zone, hours=hours, at=at)
            runs = list(ranking.best_first())
            order = np.concatenate([run for run, _ in runs])
            scores = np.empty(400, dtype=np.float32)
            scores[order] = np.concatenate([got for _, got in runs])
            assert sorted(order.tolist()) == list(range(400))
            assert scores[by_position].tolist() == expected, at
            best = sorted(range(400), key=lambda k: (-scores[k], k))
            assert order.tolist() == best


def test_an_empty_ranker_ranks_nothing() -> None:
    ranker = RemoteRanker([], [], [])
    at = datetime(2027, 3, 10, tzinfo=UTC)
    found = list(ranker.ranked(user_zone="UTC", hours=LocalHours(0, 60), at=at))
    assert [run.tolist() for run, _ in found] == [[]]
