"""The baseline Match: a distance to every supplier, then the same slot expansion."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import numpy.typing as npt

from matcher.engine.bookable import first_bookable
from matcher.geo.geometry import EARTH_MEAN_RADIUS_KM
from matcher.model import MatchQuery, Point, RenderedSlot, Supplier


def haversine_km(
    p: Point, *, lats: npt.NDArray[np.float64], lngs: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Great-circle km from ``p`` to every point (radians in), vectorised."""
    lat, lng = np.radians(p.lat), np.radians(p.lng)
    h = np.sin((lats - lat) / 2) ** 2 + np.cos(lat) * np.cos(lats) * np.sin((lngs - lng) / 2) ** 2
    return 2 * EARTH_MEAN_RADIUS_KM * np.arcsin(np.sqrt(h))


class BruteForce:
    """Scans every supplier: no index, no laziness until the slots."""

    def __init__(self, suppliers: Sequence[Supplier]) -> None:
        self._suppliers = suppliers
        self._lats = np.radians([s.location.lat for s in suppliers])
        self._lngs = np.radians([s.location.lng for s in suppliers])

    def match(
        self, query: MatchQuery, *, now: datetime, limit: int
    ) -> list[tuple[Supplier, Sequence[RenderedSlot]]]:
        """Suppliers in the radius nearest first, each with its first slots, until ``limit``."""
        assert query.point is not None
        km = haversine_km(query.point, lats=self._lats, lngs=self._lngs)
        inside = np.flatnonzero(km <= query.radius_km)
        found: list[tuple[Supplier, Sequence[RenderedSlot]]] = []
        for i in inside[np.argsort(km[inside], kind="stable")].tolist():
            s = self._suppliers[i]
            (rendered,) = first_bookable(
                [s],
                window=query.window,
                now=now,
                user_zone=query.user_zone,
                local_hours=None,
                limit=query.max_slots,
            )
            if rendered:
                found.append((s, rendered))
                if len(found) == limit:
                    break
        return found
