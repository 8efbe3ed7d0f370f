"""The R-tree over lng/lat boxes: answers, order, and reads shared between threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from matcher.engine.index import SpatialIndex
from matcher.geo.geometry import Box

#: Boxes 0..4 as (min_lng, min_lat, max_lng, max_lat).
BOXES = np.array(
    [
        (0.0, 0.0, 1.0, 1.0),
        (1.0, 1.0, 2.0, 2.0),  # touches box 0 at its corner
        (0.5, 0.5, 1.5, 1.5),  # overlaps 0 and 1
        (10.0, 10.0, 10.0, 10.0),  # a point
        (179.0, -18.5, 180.0, -16.5),  # up to the antimeridian
    ]
)


def brute_force(boxes: np.ndarray, query: list[Box]) -> list[int]:
    """The numbers of the boxes meeting any query box, by comparing every pair."""
    hit = np.zeros(len(boxes), dtype=bool)
    for min_lng, min_lat, max_lng, max_lat in query:
        hit |= (
            (boxes[:, 0] <= max_lng)
            & (min_lng <= boxes[:, 2])
            & (boxes[:, 1] <= max_lat)
            & (min_lat <= boxes[:, 3])
        )
    return np.flatnonzero(hit).tolist()


@pytest.fixture(scope="module")
def index() -> SpatialIndex:
    return SpatialIndex(BOXES)


def test_empty_index_answers_empty() -> None:
    empty = SpatialIndex(np.empty((0, 4)))
    assert len(empty) == 0
    assert empty.intersecting([(-180.0, -90.0, 180.0, 90.0)]).tolist() == []


def test_empty_query_answers_empty(index: SpatialIndex) -> None:
    assert index.intersecting([]).tolist() == []


def test_len_is_the_number_of_boxes(index: SpatialIndex) -> None:
    assert len(index) == len(BOXES)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ((0.2, 0.2, 0.3, 0.3), [0]),
        ((1.0, 1.0, 1.0, 1.0), [0, 1, 2]),  # the shared corner of 0 and 1, inside 2
        ((2.0, 2.0, 3.0, 3.0), [1]),  # touching an edge counts
        ((1.6, 0.0, 1.9, 0.9), []),
        ((10.0, 10.0, 10.0, 10.0), [3]),
        ((9.0, 9.0, 11.0, 11.0), [3]),
        ((180.0, -17.0, 180.0, -17.0), [4]),
        ((-180.0, -17.0, -179.0, -17.0), []),  # no wrapping: the other side is another box
        ((-180.0, -90.0, 180.0, 90.0), [0, 1, 2, 3, 4]),
    ],
)
def test_intersecting_one_box(index: SpatialIndex, query: Box, expected: list[int]) -> None:
    assert index.intersecting([query]).tolist() == expected


def test_intersecting_a_box_list_is_the_union(index: SpatialIndex) -> None:
    queries = [(179.5, -17.0, 180.0, -16.9), (-180.0, -17.0, -179.5, -16.9), (0.2, 0.2, 0.3, 0.3)]
    assert index.intersecting(queries).tolist() == [0, 4]


def test_results_are_sorted_and_distinct(index: SpatialIndex) -> None:
    """Overlapping query boxes hitting the same boxes report each number once, ascending."""
    queries = [(0.9, 0.9, 1.1, 1.1), (0.0, 0.0, 2.0, 2.0), (0.9, 0.9, 1.1, 1.1)]
    found = index.intersecting(queries)
    assert found.tolist() == [0, 1, 2]
    assert found.dtype == np.int64


def test_concurrent_reads_of_one_index_all_answer_correctly() -> None:
    """Guards the lock: libspatialindex crashes on concurrent reads of one unguarded index."""
    rng = np.random.default_rng(7)
    lows = rng.uniform([-180.0, -90.0], [170.0, 80.0], size=(2_000, 2))
    boxes = np.hstack([lows, lows + rng.uniform(0.0, 10.0, size=(2_000, 2))])
    shared = SpatialIndex(boxes)
    queries = [
        [(-10.0, -10.0, 10.0, 10.0)],
        [(100.0, 0.0, 120.0, 30.0), (170.0, -20.0, 180.0, 0.0)],
    ]
    expected = [brute_force(boxes, query) for query in queries]
    assert all(expected), "each query should hit something"
    failures: list[str] = []
    start = threading.Barrier(8)

    def read(worker: int) -> None:
        start.wait()
        for k in range(2_000):
            which = (worker + k) % len(queries)
            if shared.intersecting(queries[which]).tolist() != expected[which]:
                failures.append(f"worker {worker}, call {k}")
                return

    threads = [threading.Thread(target=read, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
