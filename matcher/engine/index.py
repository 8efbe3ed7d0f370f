"""Spatial indexes as plain numpy arrays, read-only once built, so any number of threads share them.

``PointGrid`` buckets points by a grid of lng/lat cells, sorted by cell: the points in a box are a
few contiguous runs of the sorted arrays (one per row of cells), found by one searchsorted.
``AreaIndex`` finds the polygons that cover a point: shapely's STRtree over their extents, then
an even-odd crossing test over their edges, all candidates at once, from float32 copies of
their vertices; a point within ``EDGE_MARGIN`` of an edge (where float32 could be wrong) is
left to GEOS itself, so the answer is always ``shapely.covers``'s.

Both replace R-trees from libspatialindex, whose queries needed a lock (concurrent reads of one
index crash it, Toblerity/rtree #53) and cost several times more.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Polygon

from matcher.geo.geometry import Box

IntArray = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
#: Cell side of ``PointGrid``, in degrees: about 11 km of latitude.
CELL_DEGREES = 0.1
#: How near an edge (degrees) a point must be for the crossing test to defer to GEOS: float32
#: vertices are within 8e-6 degrees of the true ones.
EDGE_MARGIN = 1e-4
_COLUMNS = round(360.0 / CELL_DEGREES) + 2


class PointGrid:
    """Points numbered 0..n-1, bucketed by grid cell; queries answer those numbers."""

    def __init__(self, lngs: Floats, lats: Floats) -> None:
        keys = _cell_keys(lngs, lats)
        order = np.argsort(keys, kind="stable")
        self._keys = keys[order]
        self._numbers = order.astype(np.int64)
        self._lngs = np.ascontiguousarray(lngs[order], dtype=np.float64)
        self._lats = np.ascontiguousarray(lats[order], dtype=np.float64)

    def __len__(self) -> int:
        return len(self._keys)

    def within(self, boxes: Sequence[Box]) -> tuple[IntArray, Floats, Floats]:
        """The numbers, longitudes and latitudes of the points inside any of the boxes (edges
        included), each point once, in no particular order."""
        runs: list[tuple[int, int]] = []
        for west, south, east, north in boxes:
            rows = np.arange(_row(south), _row(north) + 1, dtype=np.int64) * _COLUMNS
            starts = self._keys.searchsorted(rows + _column(west), side="left")
            stops = self._keys.searchsorted(rows + _column(east), side="right")
            runs.extend(
                (a, b) for a, b in zip(starts.tolist(), stops.tolist(), strict=True) if a < b
            )
        if not runs:
            return np.empty(0, dtype=np.int64), np.empty(0), np.empty(0)
        if len(runs) == 1:
            ((a, b),) = runs
            numbers, lngs, lats = self._numbers[a:b], self._lngs[a:b], self._lats[a:b]
        else:
            numbers = np.concatenate([self._numbers[a:b] for a, b in runs])
            lngs = np.concatenate([self._lngs[a:b] for a, b in runs])
            lats = np.concatenate([self._lats[a:b] for a, b in runs])
        inside = np.zeros(len(numbers), dtype=bool)
        for west, south, east, north in boxes:
            inside |= (west <= lngs) & (lngs <= east) & (south <= lats) & (lats <= north)
        if len(boxes) > 1:  # boxes may share cells: each point once
            inside &= _first_of_each(numbers)
        return numbers[inside], lngs[inside], lats[inside]


def _row(lat: float) -> int:
    """The row of cells of a latitude: the same floor division as ``_cell_keys``'s."""
    return int(np.floor_divide(np.float64(lat) + 90.0, CELL_DEGREES))


def _column(lng: float) -> int:
    """The column of cells of a longitude, as ``_cell_keys`` numbers it."""
    return int(np.floor_divide(np.float64(lng) + 180.0, CELL_DEGREES))


def _cell_keys(lngs: Floats, lats: Floats) -> IntArray:
    """Each point's cell, numbered row by row. The floor division is Python's (exact), as for
    a box's corners: the same function of the coordinate, so a point in a box is in its cells."""
    rows = np.floor_divide(lats + 90.0, CELL_DEGREES).astype(np.int64)
    columns = np.floor_divide(lngs + 180.0, CELL_DEGREES).astype(np.int64)
    return rows * _COLUMNS + columns


def _first_of_each(numbers: IntArray) -> npt.NDArray[np.bool_]:
    """For each number, whether it is the first occurrence of its value."""
    first = np.zeros(len(numbers), dtype=bool)
    first[np.unique(numbers, return_index=True)[1]] = True
    return first


class AreaIndex:
    """Polygons numbered 0..n-1 (holes allowed; longitudes may pass ±180); queries answer the
    numbers of those covering a point."""

    def __init__(self, areas: Sequence[Polygon]) -> None:
        self._areas = np.asarray(areas, dtype=object).reshape(-1)
        self._tree = shapely.STRtree(self._areas)
        self._tree.query(shapely.Point(0.0, 0.0))  # built now, never lazily by a query
        rings = [_ring_coordinates(a) for a in self._areas.tolist()]
        sizes = np.array([len(r) for r in rings], dtype=np.int64)
        self._starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        flat = np.concatenate(rings) if rings else np.empty((0, 2))
        self._x = np.ascontiguousarray(flat[:, 0], dtype=np.float32)
        self._y = np.ascontiguousarray(flat[:, 1], dtype=np.float32)

    def __len__(self) -> int:
        return len(self._areas)

    def covering(self, lngs: Sequence[float], lat: float) -> IntArray:
        """Sorted numbers of the polygons that cover (inside or on the edge) any of the points
        (lng, lat) for the given longitudes: one point under its names east and west of ±180."""
        xs = np.asarray(lngs, dtype=np.float64)
        which, near = self._tree.query(shapely.points(xs, np.full(len(xs), lat)))
        if not len(near):
            return np.empty(0, dtype=np.int64)
        px = xs[which]  # the point's longitude tested against each candidate
        starts, stops = self._starts[near], self._starts[near + 1] - 1  # edges: each vertex
        counts = stops - starts  # and the next, within one polygon
        pair = np.repeat(np.arange(len(near)), counts)
        first = starts[pair] + np.arange(len(pair)) - (np.cumsum(counts) - counts)[pair]
        x0, y0 = self._x[first].astype(np.float64), self._y[first].astype(np.float64)
        x1, y1 = self._x[first + 1].astype(np.float64), self._y[first + 1].astype(np.float64)
        x = px[pair]
        with np.errstate(invalid="ignore", divide="ignore"):
            spans = (y0 <= lat) != (y1 <= lat)  # NaN vertices (between rings) span nothing
            crosses = spans & (x < x0 + (lat - y0) * (x1 - x0) / (y1 - y0))
            dx, dy = x1 - x0, y1 - y0
            along = np.clip(((x - x0) * dx + (lat - y0) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
            gap = np.hypot(x0 + along * dx - x, y0 + along * dy - lat)
        inside = np.bincount(pair[crosses], minlength=len(near)) % 2 == 1
        doubtful = np.zeros(len(near), dtype=bool)
        doubtful[pair[gap < EDGE_MARGIN]] = True  # NaN gaps (between rings) never doubt
        if doubtful.any():
            asked = np.flatnonzero(doubtful)
            inside[asked] = shapely.covers(
                self._areas[near[asked]], shapely.points(px[asked], np.full(len(asked), lat))
            )
        return np.unique(near[inside]).astype(np.int64)


def _ring_coordinates(area: Polygon) -> Floats:
    """A polygon's rings one after another, a NaN vertex between two rings."""
    rings = [np.asarray(area.exterior.coords)]
    for hole in area.interiors:
        rings += [np.full((1, 2), np.nan), np.asarray(hole.coords)]
    return np.concatenate(rings) if len(rings) > 1 else rings[0]
