"""The in-process floor of the nearby step: what the plainest fast code on the same points does.

shapely's STRtree over the in-person suppliers' points, one box query around the user, numpy's
haversine on what it returns and the nearest ``TOP`` by a partition: no geodesics, no home-visit
areas, no ties by id, no antimeridian. The nearby step does all of that too; the floor says how
close to free it comes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import shapely

from matcher.geo.geometry import haversine_km, search_boxes
from matcher.model import Modality, Point, Supplier

#: Suppliers the floor returns per query, nearest first.
TOP = 20


class Floor:
    """An STRtree over the in-person suppliers, queried by box, ranked by haversine."""

    def __init__(self, suppliers: Sequence[Supplier], *, radius_km: float) -> None:
        chosen = [k for k, s in enumerate(suppliers) if Modality.IN_PERSON in s.modalities]
        self._positions = np.asarray(chosen, dtype=np.int64)
        self._lats = np.array([suppliers[k].location.lat for k in chosen], dtype=np.float64)
        self._lngs = np.array([suppliers[k].location.lng for k in chosen], dtype=np.float64)
        self._tree = shapely.STRtree(shapely.points(self._lngs, self._lats))
        self._tree.query(shapely.box(0.0, 0.0, 0.0, 0.0))  # built now, not by the first query
        self._radius_km = radius_km

    def nearest(self, p: Point) -> npt.NDArray[np.int64]:
        """Catalogue positions of the ``TOP`` nearest in-person suppliers within the radius."""
        west, south, east, north = search_boxes(p, radius_km=self._radius_km)[0]
        hits = self._tree.query(shapely.box(west, south, east, north))
        km = haversine_km(p, lats=self._lats[hits], lngs=self._lngs[hits])
        inside = np.flatnonzero(km <= self._radius_km)
        if len(inside) > TOP:
            inside = inside[np.argpartition(km[inside], TOP - 1)[:TOP]]
        return self._positions[hits[inside[np.argsort(km[inside])]]]
