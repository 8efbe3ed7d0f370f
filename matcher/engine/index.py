"""Spatial indexes as plain numpy arrays, read-only once built, so any number of threads share them.

``PointGrid`` buckets points by a grid of lng/lat cells, sorted by cell: the points in a box are a
few contiguous runs of the sorted arrays (one per row of cells), found by one searchsorted.
``AreaIndex`` finds the polygons that cover a point: a grid of their extents, then two circles
per polygon that settle most candidates, then GEOS for the rest, so the answer is always
``shapely.covers``'s.

Both replace R-trees from libspatialindex, whose queries needed a lock (concurrent reads of one
index crash it, Toblerity/rtree #53) and cost several times more.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Polygon

from matcher.geo.geometry import Box, unit_vectors

IntArray = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
#: Cell side of ``PointGrid``, in degrees: about 11 km of latitude.
CELL_DEGREES = 0.1
#: Polygons whose circles are measured together while building an ``AreaIndex``.
CIRCLE_BATCH = 8192
#: Cell side of ``AreaIndex``'s grid of polygon extents, in degrees; a polygon meeting more
#: cells than ``MAX_AREA_CELLS`` is checked on every query instead.
AREA_CELL_DEGREES = 0.25
MAX_AREA_CELLS = 64
_AREA_COLUMNS = round(1080.0 / AREA_CELL_DEGREES) + 2  # longitudes -540 to 540: past ±180
#: How far (degrees) a point must be inside a polygon's inner circle, or outside its outer one,
#: for the circles alone to decide: many times the rounding of GEOS's distances.
CIRCLE_MARGIN = 1e-7
#: The least a polygon's longitudes are scaled by for its circles (the cosine of 89.4°): near
#: a pole a smaller factor would squash the polygon to a sliver.
MIN_SCALE = 0.01
_COLUMNS = round(360.0 / CELL_DEGREES) + 2


class PointGrid:
    """Points numbered 0..n-1, bucketed by grid cell; queries answer those numbers."""

    def __init__(self, lngs: Floats, lats: Floats) -> None:
        keys = _cell_keys(lngs, lats)
        order = np.argsort(keys, kind="stable")
        self._keys = keys[order]
        # longitude, latitude, number and unit vector side by side: a run of cells is one
        # slice of rows
        self._rows = np.column_stack(
            [
                lngs[order],
                lats[order],
                order.astype(np.float64),
                unit_vectors(lats=lats[order], lngs=lngs[order]),
            ]
        )

    def __len__(self) -> int:
        return len(self._keys)

    def within(self, boxes: Sequence[Box]) -> tuple[IntArray, Floats, Floats, Floats]:
        """The numbers, longitudes, latitudes and ``unit_vectors`` of the points inside any of
        the boxes (edges included), each point once, in no particular order."""
        edges: list[int] = []  # the first and last cell of each row of cells of each box
        for west, south, east, north in boxes:
            first, last = _column(west), _column(east)
            for row in range(_row(south), _row(north) + 1):
                edges += (row * _COLUMNS + first, row * _COLUMNS + last + 1)
        bounds = self._keys.searchsorted(edges).tolist()
        ranges = [(a, b) for a, b in zip(bounds[::2], bounds[1::2], strict=True) if a < b]
        runs = [self._rows[a:b] for a, b in _merged(ranges)]  # each point once
        if not runs:
            return np.empty(0, dtype=np.int64), np.empty(0), np.empty(0), np.empty((0, 3))
        found: Floats = runs[0] if len(runs) == 1 else np.concatenate(runs)
        lngs, lats = found[:, 0], found[:, 1]
        west, south, east, north = boxes[0]
        inside = (west <= lngs) & (lngs <= east) & (south <= lats) & (lats <= north)
        for west, south, east, north in boxes[1:]:
            inside |= (west <= lngs) & (lngs <= east) & (south <= lats) & (lats <= north)
        found = found[inside]
        return found[:, 2].astype(np.int64), found[:, 0], found[:, 1], found[:, 3:]


def _merged(runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Ranges [a, b) with the overlapping ones joined."""
    if len(runs) < 2:
        return runs
    merged = [min(runs)]
    for a, b in sorted(runs)[1:]:
        if a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _row(lat: float) -> int:
    """The row of cells of a latitude: the floor division ``_cell_keys`` makes (numpy's floor
    division of floats is Python's)."""
    return int((lat + 90.0) // CELL_DEGREES)


def _column(lng: float) -> int:
    """The column of cells of a longitude, as ``_cell_keys`` numbers it."""
    return int((lng + 180.0) // CELL_DEGREES)


def _cell_keys(lngs: Floats, lats: Floats) -> IntArray:
    """Each point's cell, numbered row by row. The floor division is Python's (exact), as for
    a box's corners: the same function of the coordinate, so a point in a box is in its cells."""
    rows = np.floor_divide(lats + 90.0, CELL_DEGREES).astype(np.int64)
    columns = np.floor_divide(lngs + 180.0, CELL_DEGREES).astype(np.int64)
    return rows * _COLUMNS + columns


class AreaIndex:
    """Polygons numbered 0..n-1 (holes allowed; longitudes may pass ±180); queries answer the
    numbers of those covering a point.

    A grid of ``AREA_CELL_DEGREES`` cells lists the polygons whose extent meets each cell (those
    meeting more than ``MAX_AREA_CELLS`` are checked on every query instead). Each polygon
    keeps a point inside it and two circles around that point, drawn in a plane whose
    longitudes are shrunk by the cosine of that point's latitude (where a small area is about as
    wide as it is on the ground, so the circles hug it): the largest inside the polygon and the
    smallest holding it. A point well inside the first is covered, one well outside the second
    is not; GEOS decides the points between the two (``intersects_xy``, which for a point is
    ``covers``, on polygons left unprepared: nothing is cached per polygon).
    """

    def __init__(self, areas: Sequence[Polygon]) -> None:
        self._areas = np.asarray(areas, dtype=object).reshape(-1)
        bounds = shapely.bounds(self._areas).reshape(-1, 4)
        west, south, east, north = bounds.T
        rows0, rows1 = _area_cells(south, 90.0), _area_cells(north, 90.0)
        columns0, columns1 = _area_cells(west, 540.0), _area_cells(east, 540.0)
        heights, widths = rows1 - rows0 + 1, columns1 - columns0 + 1
        big = heights * widths > MAX_AREA_CELLS
        self._everywhere = np.flatnonzero(big)
        listed = np.flatnonzero(~big)
        counts = (heights * widths)[listed]
        owner = np.repeat(listed, counts)
        k = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
        row, column = np.divmod(k, widths[owner])
        keys = (rows0[owner] + row) * _AREA_COLUMNS + columns0[owner] + column
        order = np.argsort(keys, kind="stable")
        self._keys, self._listed = keys[order], owner[order].astype(np.int64)
        # x, y, scale, inner, outer of each listing: a cell's are one slice, not a gather
        circles = _circles(self._areas)
        self._listed_circles = circles[self._listed]
        self._everywhere_circles = circles[self._everywhere]

    def __len__(self) -> int:
        return len(self._areas)

    def covering(self, lngs: Sequence[float], lat: float) -> IntArray:
        """Sorted numbers of the polygons that cover (inside or on the edge) any of the points
        (lng, lat) for the given longitudes: one point under its names east and west of ±180."""
        row = int((lat + 90.0) // AREA_CELL_DEGREES)  # as np.floor_divide divides
        edges: list[int] = []
        named: list[float] = []
        for lng in lngs:
            column = int((lng + 540.0) // AREA_CELL_DEGREES)
            if 0 <= column < _AREA_COLUMNS:
                key = row * _AREA_COLUMNS + column
                edges += (key, key + 1)
                named.append(lng)
        bounds = self._keys.searchsorted(edges).tolist()
        found: list[IntArray] = []
        circles: list[Floats] = []
        tested: list[float] = []
        for lng, start, stop in zip(named, bounds[::2], bounds[1::2], strict=True):
            if start < stop:
                found.append(self._listed[start:stop])
                circles.append(self._listed_circles[start:stop])
                tested.append(lng)
            if len(self._everywhere):
                found.append(self._everywhere)
                circles.append(self._everywhere_circles)
                tested.append(lng)
        if not found:
            return np.empty(0, dtype=np.int64)
        near, circle = found[0], circles[0]
        px: Floats | float = tested[0]
        if len(found) > 1:
            near, circle = np.concatenate(found), np.concatenate(circles)
            px = np.repeat(np.asarray(tested, dtype=np.float64), [len(f) for f in found])
        x, y, scale, inner, outer = circle.T
        reach = np.hypot((px - x) * scale, lat - y)
        inside = reach < inner
        unsure = np.flatnonzero(~inside & (reach <= outer))
        if len(unsure):
            inside[unsure] = shapely.intersects_xy(
                self._areas[near[unsure]], px if isinstance(px, float) else px[unsure], lat
            )
        covered = near[inside]
        return covered if len(found) == 1 else np.unique(covered)


def _area_cells(degrees: Floats, origin: float) -> IntArray:
    """The row (origin 90) or column (origin 540) of cells of each coordinate."""
    return np.floor_divide(degrees + origin, AREA_CELL_DEGREES).astype(np.int64)


def _circles(areas: npt.NDArray[np.object_]) -> Floats:
    """For each polygon a point inside it (x, y), the cosine of its latitude that longitudes
    are scaled by (at least ``MIN_SCALE``), and in the plane so scaled the radius of the
    largest circle around that point inside the polygon, and of the smallest holding it, each
    with ``CIRCLE_MARGIN`` to spare: made ``CIRCLE_BATCH`` polygons at a time, so that the
    scaled copies, boundaries and vertices made on the way stay few."""
    parts = [np.empty((0, 5))]
    for start in range(0, len(areas), CIRCLE_BATCH):
        batch = areas[start : start + CIRCLE_BATCH]
        centres = shapely.point_on_surface(batch)
        x, y = shapely.get_x(centres), shapely.get_y(centres)
        scale = np.maximum(np.cos(np.radians(y)), MIN_SCALE)
        scaled = _shrunk(batch, scale=scale)
        x_scaled = x * scale
        inner = shapely.distance(shapely.points(x_scaled, y), shapely.boundary(scaled))
        vertices, owner = shapely.get_coordinates(scaled, return_index=True)
        reach = np.hypot(vertices[:, 0] - x_scaled[owner], vertices[:, 1] - y[owner])
        outer = np.full(len(batch), -np.inf)
        np.maximum.at(outer, owner, reach)
        parts.append(np.column_stack([x, y, scale, inner - CIRCLE_MARGIN, outer + CIRCLE_MARGIN]))
    return np.concatenate(parts)


def _shrunk(areas: npt.NDArray[np.object_], *, scale: Floats) -> npt.NDArray[np.object_]:
    """Copies of the polygons, each one's longitudes multiplied by its factor."""
    counts = shapely.get_num_coordinates(areas)
    factors = np.column_stack([np.repeat(scale, counts), np.ones(int(counts.sum()))])
    found: npt.NDArray[np.object_] = shapely.transform(areas, lambda lnglat: lnglat * factors)
    return found
