"""Suppliers near a point: in-person ones within a radius, home-visit ones whose area holds it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
from shapely.geometry import Polygon

from matcher.engine.expansion import member
from matcher.engine.index import AreaIndex, PointGrid
from matcher.geo.geometry import (
    HAVERSINE_SLACK,
    geodesic_km,
    haversine_km,
    lng_variants,
    nearest_runs,
    search_boxes,
)
from matcher.model import Modality, Point, Supplier

IntArray = npt.NDArray[np.int64]
#: What a nearby supplier can be matched by, as the few sets there are.
IN_PERSON = frozenset({Modality.IN_PERSON})
HOME_VISIT = frozenset({Modality.HOME_VISIT})
BOTH = IN_PERSON | HOME_VISIT
_MET = (frozenset[Modality](), IN_PERSON, HOME_VISIT, BOTH)


class Nearby:
    """A grid over the in-person suppliers' points and an index of the home-visit areas."""

    def __init__(self, suppliers: Sequence[Supplier], *, offered: dict[Modality, IntArray]) -> None:
        self._lats = np.array([s.location.lat for s in suppliers], dtype=np.float64)
        self._lngs = np.array([s.location.lng for s in suppliers], dtype=np.float64)
        self._id_ranks = _ranks([s.id for s in suppliers])
        self._in_person = offered[Modality.IN_PERSON]
        self._home_visit = offered[Modality.HOME_VISIT]
        self._offers_in_person = np.zeros(len(suppliers), dtype=bool)
        self._offers_in_person[self._in_person] = True
        self._points = PointGrid(self._lngs[self._in_person], self._lats[self._in_person])
        self._areas = AreaIndex([_area(suppliers[i]) for i in self._home_visit.tolist()])

    def by_distance(
        self, p: Point, *, radius_km: float, modalities: frozenset[Modality]
    ) -> Iterator[tuple[int, float, frozenset[Modality]]]:
        """(position, geodesic km, modalities met) of each supplier that serves the point in
        person within the radius or at home, nearest first (ties by id).

        Lazy: geodesics are computed only as far as the caller reads.
        """
        in_person = np.empty(0, dtype=np.int64)
        rough = np.empty(0)
        boxes = search_boxes(p, radius_km=radius_km)
        asked_in_person = Modality.IN_PERSON in modalities
        if asked_in_person:
            hits, lngs, lats = self._points.within(boxes)
            km = haversine_km(p, lats=lats, lngs=lngs)
            close = km * (1 - HAVERSINE_SLACK) <= radius_km
            in_person, rough = self._in_person[hits[close]], km[close]
        home = np.empty(0, dtype=np.int64)
        if Modality.HOME_VISIT in modalities:
            home = self._home_visit[self._areas.covering(lng_variants(p.lng), p.lat)]
        positions, serves = in_person, np.zeros(len(in_person), dtype=bool)
        if len(home):
            lats, lngs = self._lats[home], self._lngs[home]
            km = haversine_km(p, lats=lats, lngs=lngs)
            listed = np.zeros(len(home), dtype=bool)  # among ``in_person`` already, chosen as
            if asked_in_person:  # they were: in person, in a box, near enough
                for west, south, east, north in boxes:
                    listed |= (west <= lngs) & (lngs <= east) & (south <= lats) & (lats <= north)
                listed &= self._offers_in_person[home] & (km * (1 - HAVERSINE_SLACK) <= radius_km)
            if listed.any():
                serves = member(in_person, np.sort(home[listed]))
            positions = np.concatenate([in_person, home[~listed]])
            rough = np.concatenate([rough, km[~listed]])
            serves = np.concatenate([serves, np.ones(int((~listed).sum()), dtype=bool)])
        in_box = np.arange(len(positions)) < len(in_person)
        for run, km in nearest_runs(
            p,
            rough=rough,
            lats=self._lats[positions],
            lngs=self._lngs[positions],
            ranks=self._id_ranks[positions],
        ):
            near = in_box[run] & (km <= radius_km)  # 1 in person, 2 at home, 3 both
            met = near.astype(np.int64) + 2 * serves[run]
            for position, distance, code in zip(
                positions[run].tolist(), km.tolist(), met.tolist(), strict=True
            ):
                if code:
                    yield position, distance, _MET[code]

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
