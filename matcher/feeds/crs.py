"""The coordinate reference system a feed declares, and conversion to WGS84 degrees."""

from __future__ import annotations

import math
import re

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry import Polygon

WGS84 = "EPSG:4326"
EPSG_CODE = re.compile(r"EPSG:[1-9]\d*")


class Crs:
    """An EPSG CRS whose (x, y) become WGS84 (lng, lat): x is easting or longitude, always."""

    def __init__(self, code: str) -> None:
        """Raises ValueError, saying why, for anything but an EPSG code PROJ knows."""
        if not EPSG_CODE.fullmatch(code):
            raise ValueError(f"must be an EPSG code such as 'EPSG:3857', got {code!r}")
        try:
            source = CRS.from_user_input(code)
        except CRSError:
            raise ValueError(f"{code!r} is not in the EPSG database") from None
        self.code = code
        self._identity = source == CRS.from_user_input(WGS84)
        self._transformer = Transformer.from_crs(source, WGS84, always_xy=True)

    def lng_lat(self, x: float, y: float) -> tuple[float, float]:
        """A point as (lng, lat) degrees; not finite when the CRS cannot place it."""
        if self._identity:
            return x, y
        lng, lat = self._transformer.transform(x, y, errcheck=False)
        return float(lng), float(lat)

    def polygon(self, shape: Polygon) -> Polygon:
        """A polygon in WGS84 degrees, its longitudes kept continuous across the antimeridian."""
        if self._identity:
            return shape
        return shapely.transform(shape, self._to_degrees)

    def _to_degrees(self, xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """An n x 2 array of (x, y) as (lng, lat), unwrapped around the first longitude."""
        lngs, lats = self._transformer.transform(xy[:, 0], xy[:, 1], errcheck=False)
        lngs = np.asarray(lngs, dtype=np.float64)
        if len(lngs) and math.isfinite(lngs[0]):
            lngs = lngs[0] + (lngs - lngs[0] + 180.0) % 360.0 - 180.0
        return np.column_stack([lngs, np.asarray(lats, dtype=np.float64)])
