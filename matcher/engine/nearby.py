"""Suppliers near a point: in-person ones within a radius, home-visit ones whose area holds it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
from shapely.geometry import Polygon

from matcher.engine.index import AreaIndex, PointGrid
from matcher.geo.geometry import (
    GREAT_CIRCLE_ERROR_KM,
    HAVERSINE_SLACK,
    geodesic_km,
    great_circle_km,
    lng_variants,
    nearest_runs,
    search_boxes,
    unit_vectors,
)
from matcher.model import Modality, Point, Supplier

IntArray = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
#: Nearby suppliers nearest first: positions, geodesic km, and what each is matched by
#: (1 in person, 2 at home, 3 both).
Run = tuple[IntArray, Floats, IntArray]


class Nearby:
    """A grid over the in-person suppliers' points and an index of the home-visit areas."""

    def __init__(self, suppliers: Sequence[Supplier], *, offered: dict[Modality, IntArray]) -> None:
        lats = np.array([s.location.lat for s in suppliers], dtype=np.float64)
        lngs = np.array([s.location.lng for s in suppliers], dtype=np.float64)
        # latitude, longitude and id rank side by side: a measured candidate's are one row
        self._places = np.column_stack([lats, lngs, _ranks([s.id for s in suppliers])])
        self._lats, self._lngs = self._places[:, 0], self._places[:, 1]
        self._in_person = offered[Modality.IN_PERSON]
        self._home_visit = offered[Modality.HOME_VISIT]
        self._points = PointGrid(self._lngs[self._in_person], self._lats[self._in_person])
        self._areas = AreaIndex([_area(suppliers[i]) for i in self._home_visit.tolist()])
        self._home_xyz = unit_vectors(
            lats=self._lats[self._home_visit], lngs=self._lngs[self._home_visit]
        )

    def runs(
        self, p: Point, *, radius_km: float, modalities: frozenset[Modality], first: int
    ) -> Iterator[Run]:
        """The suppliers that serve the point in person within the radius or at home, nearest
        first (ties by id), a run at a time; the first run holds at least the ``first`` nearest.

        Lazy: geodesics are computed only as far as the caller reads.
        """
        positions = np.empty(0, dtype=np.int64)
        rough = np.empty(0)
        if Modality.IN_PERSON in modalities:
            hits, _, _, xyz = self._points.within(search_boxes(p, radius_km=radius_km))
            km = great_circle_km(p, xyz=xyz)
            close = (km - GREAT_CIRCLE_ERROR_KM) * (1 - HAVERSINE_SLACK) <= radius_km
            positions, rough = self._in_person[hits[close]], km[close]
        codes = np.ones(len(positions), dtype=np.int64)
        if Modality.HOME_VISIT in modalities:
            areas = self._areas.covering(lng_variants(p.lng), p.lat)
            home = self._home_visit[areas]
            if len(home) and len(positions):  # near in person too: one candidate meeting both
                order = np.argsort(positions)
                at = order[
                    np.minimum(np.searchsorted(positions, home, sorter=order), len(order) - 1)
                ]
                both = positions[at] == home
                codes[at[both]] = 3
                areas, home = areas[~both], home[~both]
            if len(home):
                km = great_circle_km(p, xyz=self._home_xyz[areas])
                positions = np.concatenate([positions, home])
                rough = np.concatenate([rough, km])
                codes = np.concatenate([codes, np.full(len(home), 2)])
        for run, km in nearest_runs(
            p,
            rough=rough,
            lats=self._lats,
            lngs=self._lngs,
            ranks=self._places[:, 2],
            first=first,
            among=positions,
        ):
            at, met = positions[run], codes[run] & (2 + (km <= radius_km))
            kept = met > 0  # in person only, and beyond the radius: out
            if kept.all():
                yield at, km, met
            elif kept.any():
                yield at[kept], km[kept], met[kept]

    def distances_km(self, p: Point | None, positions: Sequence[int]) -> list[float]:
        """Geodesic km from the user to some suppliers; 0 when the user gave only a country."""
        if p is None:
            return [0.0] * len(positions)
        at = np.asarray(positions, dtype=np.int64)
        found: list[float] = geodesic_km(p, lats=self._lats[at], lngs=self._lngs[at]).tolist()
        return found


def offering(suppliers: Sequence[Supplier]) -> dict[Modality, IntArray]:
    """Positions of the suppliers offering each modality, from one pass over them (members
    looked up by identity: an enum member's own hash is a Python call, slow a million times)."""
    bits = np.fromiter(
        (sum(_BITS[id(m)] for m in s.modalities) for s in suppliers),
        dtype=np.int64,
        count=len(suppliers),
    )
    return {m: np.flatnonzero(bits & _BITS[id(m)]).astype(np.int64) for m in Modality}


_BITS = {id(m): 1 << k for k, m in enumerate(Modality)}


def _ranks(ids: list[str]) -> IntArray:
    """Each id's place in the sorted ids: ties in distance go to the smaller id."""
    ranks = np.empty(len(ids), dtype=np.int64)
    ranks[sorted(range(len(ids)), key=ids.__getitem__)] = np.arange(len(ids))
    return ranks


def _area(supplier: Supplier) -> Polygon:
    """A home-visit supplier's area."""
    area = supplier.service_area
    assert area is not None  # the feed refuses HOME_VISIT without one
    return area
