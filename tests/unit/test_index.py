"""The spatial indexes: the same answers as a brute-force scan, and reads shared between threads."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon

from matcher.engine.index import AreaIndex, PointGrid
from matcher.geo.geometry import Box, circle, lng_variants, search_boxes
from matcher.model import Point

PROPERTY = settings(max_examples=200, deadline=None)


def inside_any(lngs: np.ndarray, lats: np.ndarray, boxes: list[Box]) -> list[int]:
    """The numbers of the points inside any box (edges included), by comparing every pair."""
    hit = np.zeros(len(lngs), dtype=bool)
    for west, south, east, north in boxes:
        hit |= (west <= lngs) & (lngs <= east) & (south <= lats) & (lats <= north)
    return np.flatnonzero(hit).tolist()


def within(grid: PointGrid, boxes: list[Box]) -> list[int]:
    numbers, _, _, _ = grid.within(boxes)
    assert len(set(numbers.tolist())) == len(numbers), "each point once"
    return sorted(numbers.tolist())


# PointGrid

POINTS = np.array(
    [
        (0.0, 0.0),
        (0.1, 0.1),  # on a cell corner
        (0.05, 0.05),
        (-180.0, -17.0),
        (179.99, -17.0),
        (10.0, 89.99),
        (-45.0, -90.0),  # the south pole
    ]
)


@pytest.fixture(scope="module")
def grid() -> PointGrid:
    return PointGrid(POINTS[:, 0], POINTS[:, 1])


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        ((0.0, 0.0, 0.1, 0.1), [0, 1, 2]),  # edges count
        ((0.01, 0.01, 0.09, 0.09), [2]),
        ((0.1, 0.1, 0.1, 0.1), [1]),  # a box that is a point
        ((179.9, -17.5, 180.0, -16.5), [4]),
        ((-180.0, -17.5, -179.9, -16.5), [3]),  # no wrapping: the other side is another box
        ((-180.0, 89.0, 180.0, 90.0), [5]),
        ((-180.0, -90.0, 180.0, -89.0), [6]),
        ((-180.0, -90.0, 180.0, 90.0), [0, 1, 2, 3, 4, 5, 6]),
        ((1.0, 1.0, 2.0, 2.0), []),
    ],
)
def test_points_within_a_box(grid: PointGrid, box: Box, expected: list[int]) -> None:
    assert within(grid, [box]) == expected


def test_points_within_overlapping_boxes_are_listed_once(grid: PointGrid) -> None:
    boxes = [(0.0, 0.0, 0.1, 0.1), (0.05, 0.05, 0.2, 0.2), (179.9, -17.5, 180.0, -16.5)]
    assert within(grid, boxes) == [0, 1, 2, 4]


def test_an_empty_grid_holds_nothing() -> None:
    empty = PointGrid(np.empty(0), np.empty(0))
    assert len(empty) == 0
    assert within(empty, [(-180.0, -90.0, 180.0, 90.0)]) == []


@PROPERTY
@given(
    seed=st.integers(0, 2**32 - 1),
    centre=st.tuples(st.floats(-90, 90), st.floats(-180, 179.999)),
    radius_km=st.floats(0.5, 800),
)
def test_points_within_search_boxes_as_a_scan(
    seed: int, centre: tuple[float, float], radius_km: float
) -> None:
    """Random points around a random centre (poles and ±180 included): the boxes of a search
    find exactly what comparing every point finds."""
    rng = np.random.default_rng(seed)
    lat, lng = centre
    lats = np.clip(lat + rng.normal(0, 3, 3000), -90, 90)
    lngs = (lng + rng.normal(0, 3, 3000) + 180) % 360 - 180
    lats[:10], lngs[:10] = np.round(lats[:10], 1), np.round(lngs[:10], 1)  # on cell edges
    boxes = search_boxes(Point(lat, lng), radius_km=radius_km)
    assert within(PointGrid(lngs, lats), boxes) == inside_any(lngs, lats, boxes)


# AreaIndex


def star(lng: float, lat: float, rng: np.random.Generator, *, points: int = 40) -> Polygon:
    """A star-shaped polygon around a point, 0.05 to 0.3 degrees across."""
    angles = np.sort(rng.uniform(0, 2 * np.pi, points))
    radii = rng.uniform(0.05, 0.3, points)
    return Polygon(np.column_stack([lng + radii * np.cos(angles), lat + radii * np.sin(angles)]))


SQUARE = Polygon([(0, 0), (1, 0), (1, 1), (0, 1)])
WITH_HOLE = Polygon(
    [(2, 0), (4, 0), (4, 2), (2, 2)], holes=[[(2.5, 0.5), (3.5, 0.5), (3.5, 1.5), (2.5, 1.5)]]
)
ACROSS_180 = Polygon([(179.0, -18.0), (181.0, -18.0), (181.0, -16.0), (179.0, -16.0)])


@pytest.fixture(scope="module")
def areas() -> AreaIndex:
    return AreaIndex([SQUARE, WITH_HOLE, ACROSS_180])


@pytest.mark.parametrize(
    ("lng", "lat", "expected"),
    [
        (0.5, 0.5, [0]),
        (0.0, 0.5, [0]),  # on an edge: covered
        (1.0, 1.0, [0]),  # on a vertex
        (1.0 + 1e-9, 0.5, []),  # just outside
        (3.0, 1.0, []),  # in the hole
        (2.5, 1.0, [1]),  # on the hole's edge
        (2.2, 1.0, [1]),
        (179.5, -17.0, [2]),
        (-179.5, -17.0, [2]),  # 180.5 under its western name
        (-178.5, -17.0, []),
        (50.0, 50.0, []),
    ],
)
def test_areas_covering_a_point(
    areas: AreaIndex, lng: float, lat: float, expected: list[int]
) -> None:
    assert areas.covering(lng_variants(lng), lat).tolist() == expected


def test_an_empty_area_index_covers_nothing() -> None:
    assert AreaIndex([]).covering([0.0], 0.0).tolist() == []


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), lat=st.floats(-80, 80), lng=st.floats(-180, 179.999))
def test_areas_covering_a_point_as_shapely_covers(seed: int, lat: float, lng: float) -> None:
    """Stars, circles and stars across ±180 around a point, tested at random points, at their
    vertices and at points on their edges: the answer is shapely.covers' every time."""
    rng = np.random.default_rng(seed)
    shapes = [star(lng + rng.normal(0, 0.2), lat + rng.normal(0, 0.2), rng) for _ in range(30)]
    shapes += [circle(Point(lat, lng), radius_km=float(rng.uniform(1, 40))) for _ in range(5)]
    index = AreaIndex(shapes)
    vertices = shapely.get_coordinates(shapes[0])
    tests = [(float(x), float(y)) for x, y in vertices[:5]]  # on vertices
    tests += [((a[0] + b[0]) / 2, (a[1] + b[1]) / 2) for a, b in itertools.pairwise(vertices[:5])]
    tests += [(lng + rng.normal(0, 0.2), lat + rng.normal(0, 0.2)) for _ in range(20)]
    everything = np.array(shapes, dtype=object)
    for x, y in tests:
        x = (x + 180) % 360 - 180
        expected = set()
        for variant in lng_variants(x):
            expected |= set(np.flatnonzero(shapely.covers(everything, shapely.Point(variant, y))))
        assert index.covering(lng_variants(x), y).tolist() == sorted(expected), (x, y)


# shared between threads


def test_concurrent_reads_of_shared_indexes_all_answer_correctly() -> None:
    """Nothing in either index is written after it is built: 8 threads reading at once get
    the answers one thread gets."""
    rng = np.random.default_rng(7)
    lngs, lats = rng.uniform(-180, 180, 20_000), rng.uniform(-80, 80, 20_000)
    grid = PointGrid(lngs, lats)
    shapes = [star(float(x), float(y), rng) for x, y in zip(lngs[:2000], lats[:2000], strict=True)]
    index = AreaIndex(shapes)
    places = [Point(float(y), float(x)) for x, y in zip(lngs[:50], lats[:50], strict=True)]
    expected = [
        (
            within(grid, search_boxes(p, radius_km=300)),
            index.covering(lng_variants(p.lng), p.lat).tolist(),
        )
        for p in places
    ]
    failures: list[str] = []
    start = threading.Barrier(8)

    def read(worker: int) -> None:
        start.wait()
        for k in range(300):
            which = (worker + k) % len(places)
            p = places[which]
            got = (
                within(grid, search_boxes(p, radius_km=300)),
                index.covering(lng_variants(p.lng), p.lat).tolist(),
            )
            if got != expected[which]:
                failures.append(f"worker {worker}, call {k}")
                return

    threads = [threading.Thread(target=read, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
