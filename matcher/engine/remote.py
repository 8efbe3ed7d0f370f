"""Ranks remote suppliers, who match at any distance, by how well their hours suit the user.

A remote supplier's score is how many of its weekly-rule slots a week start inside the user's
local hours (08:00-20:00 when the user names none). Scoring every remote supplier slot by slot
would cost milliseconds each; instead each keeps a count of slot starts per local hour of the
day, summed over the week (the user's hours repeat daily, so the weekday adds nothing), and a
query shifts the user's hours into each supplier zone's hours at the window's start and sums
the counts: one matrix product per zone, for all remote suppliers at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from matcher.geo.timezones import utc_offset_seconds
from matcher.model import Availability, LocalHours, WeeklyRule

HOURS_PER_DAY = 24
MINUTES_PER_DAY = HOURS_PER_DAY * 60
#: Score vectors kept per ranker (1.9 MB each at 1M suppliers): the user offsets in use.
SCORE_CACHE = 32
BUCKET_MIDDLES = np.arange(HOURS_PER_DAY) * 60 + 30  # minute of the day mid-way through each hour


def daily_histogram(availability: Availability) -> npt.NDArray[np.float32]:
    """Slot starts per local hour of the day of the weekly rules, summed over the week's days."""
    return _histogram(availability.weekly)


@lru_cache(maxsize=1 << 14)
def _histogram(weekly: tuple[WeeklyRule, ...]) -> npt.NDArray[np.float32]:
    """daily_histogram's counts, made once per distinct list of rules (feeds repeat a few)."""
    counts = np.zeros(HOURS_PER_DAY, dtype=np.float32)
    for rule in weekly:
        hours = np.asarray(rule.minutes, dtype=np.int64) // 60
        np.add.at(counts, hours, float(len(rule.days)))
    counts.flags.writeable = False  # shared by every supplier with these rules
    return counts


@lru_cache(maxsize=256)
def hours_mask(hours: LocalHours) -> npt.NDArray[np.bool_]:
    """For each minute of the user's local day, whether the user's hours admit it (read-only)."""
    minute = np.arange(MINUTES_PER_DAY)
    if hours.start_minute <= hours.end_minute:
        mask = (minute >= hours.start_minute) & (minute < hours.end_minute)
    else:
        mask = (minute >= hours.start_minute) | (minute < hours.end_minute)
    mask.flags.writeable = False  # shared by every query with these hours
    return mask


class RemoteRanker:
    """Score remote suppliers (given by catalogue position) for a user's zone and hours."""

    def __init__(
        self,
        positions: Sequence[int],
        zones: Sequence[str],
        histograms: Sequence[npt.NDArray[np.float32]],
    ) -> None:
        order = sorted(range(len(positions)), key=lambda k: zones[k])
        self.positions = np.asarray([positions[k] for k in order], dtype=np.int64)
        self._histograms = np.asarray([histograms[k] for k in order], dtype=np.float32).reshape(
            -1, HOURS_PER_DAY
        )
        self._groups: list[tuple[str, int, int]] = []
        for k, name in enumerate(zones[j] for j in order):
            if self._groups and self._groups[-1][0] == name:
                self._groups[-1] = (name, self._groups[-1][1], k + 1)
            else:
                self._groups.append((name, k, k + 1))
        self._scores = lru_cache(maxsize=SCORE_CACHE)(self._scored)

    def ranked(
        self, *, user_zone: str, hours: LocalHours, at: datetime
    ) -> Iterator[tuple[int, float]]:
        """(catalogue position, score) of every remote supplier, best score first, sorted only
        as far as the caller reads."""
        scores = self.scores(user_zone=user_zone, hours=hours, at=at)
        for k in best_first(scores):
            yield int(self.positions[k]), float(scores[k])

    def scores(self, *, user_zone: str, hours: LocalHours, at: datetime) -> npt.NDArray[np.float32]:
        """Estimated weekly slots in the user's hours of each remote supplier, as ``positions``.

        Read-only. Scores depend only on the hours and each zone's offset from the user, which
        change at DST transitions alone: they are cached by those.
        """
        user_offset = utc_offset_seconds(user_zone, at=at) // 60
        shifts = tuple(
            utc_offset_seconds(name, at=at) // 60 - user_offset for name, _, _ in self._groups
        )
        return self._scores(hours, shifts)

    def _scored(self, hours: LocalHours, shifts: tuple[int, ...]) -> npt.NDArray[np.float32]:
        """Scores for the hours, each zone group shifted by its offset from the user's, in minutes.

        Zones that share a shift share one mask.
        """
        admitted = hours_mask(hours)
        result = np.empty(len(self.positions), dtype=np.float32)
        masks: dict[int, npt.NDArray[np.float32]] = {}
        for (_, start, stop), shift in zip(self._groups, shifts, strict=True):
            if shift not in masks:
                masks[shift] = admitted[(BUCKET_MIDDLES - shift) % MINUTES_PER_DAY].astype(
                    np.float32
                )
            result[start:stop] = self._histograms[start:stop] @ masks[shift]
        result.flags.writeable = False  # shared by every query with the same key
        return result


def best_first(scores: npt.NDArray[np.float32], *, chunk: int = 64) -> Iterator[int]:
    """Indices by descending score (ties by index), sorting only as far as the caller reads."""
    remaining = np.arange(len(scores))
    while len(remaining):
        keys = -scores[remaining]
        if chunk < len(remaining):
            threshold = np.partition(keys, chunk - 1)[chunk - 1]
            head = np.flatnonzero(keys <= threshold)  # ties at the edge stay together
        else:
            head = np.arange(len(remaining))
        head = head[np.lexsort((remaining[head], keys[head]))]
        yield from remaining[head].tolist()
        remaining = np.delete(remaining, head)
        chunk *= 4
