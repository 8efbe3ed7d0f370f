"""Suppliers near a point: in-person ones within a radius, home-visit ones whose area holds it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
from shapely import bounds, covers, prepare
from shapely.geometry import Point as ShapelyPoint
from shapely.geometry import Polygon

from matcher.engine.index import SpatialIndex
from matcher.geo.geometry import (
    HAVERSINE_SLACK,
    geodesic_km_to,
    haversine_km,
    lng_variants,
    nearest_first,
    search_boxes,
)
from matcher.model import Modality, Point, Supplier

IntArray = npt.NDArray[np.int64]


class Nearby:
    """R-trees over the in-person suppliers' points and the home-visit suppliers' areas."""

    def __init__(self, suppliers: Sequence[Supplier]) -> None:
        self._lats = np.array([s.location.lat for s in suppliers], dtype=np.float64)
        self._lngs = np.array([s.location.lng for s in suppliers], dtype=np.float64)
        self._id_ranks = np.argsort(np.argsort(np.array([s.id for s in suppliers])))
        self._in_person = having(suppliers, Modality.IN_PERSON)
        self._home_visit = having(suppliers, Modality.HOME_VISIT)
        self._points = SpatialIndex(
            np.column_stack([self._lngs, self._lats, self._lngs, self._lats])[self._in_person]
        )
        self._areas = np.empty(len(self._home_visit), dtype=object)
        self._areas[:] = [_area(suppliers[i]) for i in self._home_visit.tolist()]
        prepare(self._areas)
        self._area_index = SpatialIndex(bounds(self._areas).reshape(-1, 4))

    def by_distance(
        self, p: Point, *, radius_km: float, modalities: frozenset[Modality]
    ) -> Iterator[tuple[int, float, frozenset[Modality]]]:
        """(position, geodesic km, modalities met) of each supplier that serves the point in
        person within the radius or at home, nearest first (ties by id).

        Lazy: geodesics are computed only as far as the caller reads.
        """
        in_person = np.empty(0, dtype=np.int64)
        if Modality.IN_PERSON in modalities:
            hits = self._points.intersecting(search_boxes(p, radius_km=radius_km))
            in_person = self._in_person[hits]
            rough = haversine_km(p, lats=self._lats[in_person], lngs=self._lngs[in_person])
            in_person = in_person[rough * (1 - HAVERSINE_SLACK) <= radius_km]
        home = (
            self._serving_areas(p)
            if Modality.HOME_VISIT in modalities
            else np.empty(0, dtype=np.int64)
        )
        positions = np.union1d(in_person, home)
        in_box = np.isin(positions, in_person).tolist()
        serves = np.isin(positions, home).tolist()
        for k, distance in nearest_first(
            p,
            lats=self._lats[positions],
            lngs=self._lngs[positions],
            ranks=self._id_ranks[positions],
        ):
            met = set()
            if in_box[k] and distance <= radius_km:
                met.add(Modality.IN_PERSON)
            if serves[k]:
                met.add(Modality.HOME_VISIT)
            if met:
                yield int(positions[k]), distance, frozenset(met)

    def distance_km(self, p: Point | None, position: int) -> float:
        """Geodesic km from the user to one supplier; 0 when the user gave only a country."""
        if p is None:
            return 0.0
        there = Point(lat=float(self._lats[position]), lng=float(self._lngs[position]))
        return geodesic_km_to(p, there)

    def _serving_areas(self, p: Point) -> IntArray:
        """Home-visit suppliers whose service area holds the point, on either side of ±180°."""
        variants = lng_variants(p.lng)
        near = self._area_index.intersecting([(lng, p.lat, lng, p.lat) for lng in variants])
        inside = np.zeros(len(near), dtype=bool)
        for lng in variants:
            inside |= covers(self._areas[near], ShapelyPoint(lng, p.lat))
        return self._home_visit[near[inside]]


def having(suppliers: Sequence[Supplier], modality: Modality) -> IntArray:
    """Positions of the suppliers offering a modality."""
    return np.array(
        [i for i, s in enumerate(suppliers) if modality in s.modalities], dtype=np.int64
    )


def _area(supplier: Supplier) -> Polygon:
    """A home-visit supplier's service area."""
    area = supplier.service_area
    assert area is not None  # the feed refuses HOME_VISIT without one
    return area
