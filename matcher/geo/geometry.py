"""Points on WGS84: validation, coarsening, geohashes, search boxes and geodesic distances."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Geod
from shapely.geometry import Polygon

from matcher.errors import InvalidArgument
from matcher.model import Point

WGS84 = Geod(ellps="WGS84")
KM_PER_DEGREE_LAT_MIN = 110.574  # a degree of latitude is shortest at the equator
EARTH_MEAN_RADIUS_KM = 6371.0088
#: Circles drawn per vectorised batch: bounds its temporary arrays to a few MiB.
CIRCLE_BATCH = 4096
#: WGS84 geodesics stay within 0.994-1.005 of haversine on the mean sphere: bound them at 1%.
HAVERSINE_SLACK = 0.01
#: How far ``great_circle_km`` may be from ``haversine_km``: its rounding near zero, where a
#: cosine a unit from 1 is a quarter metre, with room to spare.
GREAT_CIRCLE_ERROR_KM = 0.001
#: Points ``nearest_first`` gives out after its first round of geodesics; each later round
#: gives out at least four times more.
FIRST_GEODESICS = 32
#: A point whose haversine exceeds the k-th smallest by this factor cannot be among the first k.
_WIDEN = (1 + HAVERSINE_SLACK) / (1 - HAVERSINE_SLACK)
GEOHASH_ALPHABET = "0123456789bcdefghjkmnpqrstuvwxyz"

Box = tuple[float, float, float, float]  # (min_lng, min_lat, max_lng, max_lat)


def point(*, lat: float, lng: float, field: str) -> Point:
    """Validates raw degrees, naming the offending field; 180° becomes -180°, its other name."""
    if not math.isfinite(lat) or not -90.0 <= lat <= 90.0:
        raise InvalidArgument.of(f"{field}.lat", "must be a finite number of degrees in [-90, 90]")
    if not math.isfinite(lng) or not -180.0 <= lng <= 180.0:
        raise InvalidArgument.of(
            f"{field}.lng", "must be a finite number of degrees in [-180, 180]"
        )
    return Point(lat=lat, lng=lng if lng < 180.0 else -180.0)


def coarsen(p: Point, *, cell_km: float) -> Point:
    """Snaps a point to the centre of a grid cell about ``cell_km`` on a side.

    Rows are bands of equal latitude; each row holds as many equal cells as fit its
    circumference, so cells stay about ``cell_km`` wide up to the poles (where a row is
    one cell) instead of shrinking to metres as a plain degree grid would.
    """
    step = cell_km / KM_PER_DEGREE_LAT_MIN
    rows = max(1, math.ceil(180.0 / step))
    step = 180.0 / rows
    row = min(int((p.lat + 90.0) // step), rows - 1)
    lat = -90.0 + (row + 0.5) * step
    circumference_km = 360.0 * KM_PER_DEGREE_LAT_MIN * math.cos(math.radians(lat))
    cells = max(1, int(circumference_km // cell_km))
    width = 360.0 / cells
    col = min(int((p.lng + 180.0) // width), cells - 1)
    return Point(lat=round(lat, 6), lng=round(-180.0 + (col + 0.5) * width, 6))


def decode_geohash(code: str, *, field: str) -> Point:
    """Returns the centre of a geohash cell."""
    if not 1 <= len(code) <= 12 or any(c not in GEOHASH_ALPHABET for c in code.lower()):
        raise InvalidArgument.of(
            field, "must be 1 to 12 geohash characters (0-9, b-z without a i l o)"
        )
    lat_lo, lat_hi, lng_lo, lng_hi = -90.0, 90.0, -180.0, 180.0
    even = True
    for char in code.lower():
        bits = GEOHASH_ALPHABET.index(char)
        for shift in range(4, -1, -1):
            bit = (bits >> shift) & 1
            if even:
                mid = (lng_lo + lng_hi) / 2
                lng_lo, lng_hi = (mid, lng_hi) if bit else (lng_lo, mid)
            else:
                mid = (lat_lo + lat_hi) / 2
                lat_lo, lat_hi = (mid, lat_hi) if bit else (lat_lo, mid)
            even = not even
    return Point(lat=(lat_lo + lat_hi) / 2, lng=(lng_lo + lng_hi) / 2)


def search_boxes(p: Point, *, radius_km: float) -> list[Box]:
    """Lng/lat boxes that together cover every point within ``radius_km`` of ``p``.

    Near a pole the circle holds the pole, so the box spans every longitude; across the
    antimeridian the box is split in two, as an R-tree has no notion of wrapping.
    """
    dlat = radius_km / KM_PER_DEGREE_LAT_MIN
    min_lat, max_lat = p.lat - dlat, p.lat + dlat
    if min_lat <= -90.0 or max_lat >= 90.0:
        return [(-180.0, max(min_lat, -90.0), 180.0, min(max_lat, 90.0))]
    # On a sphere the widest longitude reach of a small circle is asin(sin r / cos lat).
    angular = radius_km / EARTH_MEAN_RADIUS_KM
    ratio = math.sin(angular) / math.cos(math.radians(p.lat))
    if ratio >= 1.0:
        return [(-180.0, min_lat, 180.0, max_lat)]
    dlng = math.degrees(math.asin(ratio)) * 1.01 + 1e-6  # 1% margin for the ellipsoid
    west, east = p.lng - dlng, p.lng + dlng
    if west < -180.0:
        return [(west + 360.0, min_lat, 180.0, max_lat), (-180.0, min_lat, east, max_lat)]
    if east > 180.0:
        return [(west, min_lat, 180.0, max_lat), (-180.0, min_lat, east - 360.0, max_lat)]
    return [(west, min_lat, east, max_lat)]


def geodesic_km(
    p: Point, *, lats: npt.NDArray[np.float64], lngs: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Geodesic distances on the WGS84 ellipsoid from ``p`` to each point, vectorised."""
    if lats.size == 0:
        return np.empty(0)
    _, _, metres = WGS84.inv(np.full(lats.shape, p.lng), np.full(lats.shape, p.lat), lngs, lats)
    return np.asarray(metres, dtype=np.float64) / 1000.0


def haversine_km(
    p: Point, *, lats: npt.NDArray[np.float64], lngs: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Great-circle distances on the mean sphere from ``p``: within 1% of the geodesic, cheap."""
    lat, lng = math.radians(p.lat), math.radians(p.lng)
    phi, lam = np.radians(lats), np.radians(lngs)
    h = np.sin((phi - lat) / 2) ** 2 + math.cos(lat) * np.cos(phi) * np.sin((lam - lng) / 2) ** 2
    return np.asarray(2 * EARTH_MEAN_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(h, 1.0))))


def unit_vectors(
    *, lats: npt.NDArray[np.float64], lngs: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Each point as an (x, y, z) row on the unit sphere: what ``great_circle_km`` measures."""
    phi, lam = np.radians(lats), np.radians(lngs)
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


def great_circle_km(p: Point, *, xyz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``haversine_km`` from the points' ``unit_vectors``, by a dot product: a few array
    operations where the haversine takes many (what costs on tens of points), within
    ``GREAT_CIRCLE_ERROR_KM`` of it."""
    phi, lam = math.radians(p.lat), math.radians(p.lng)
    centre = (math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi))
    half_chord = np.sqrt(np.maximum(0.5 - 0.5 * (xyz @ centre), 0.0))
    return np.asarray(2 * EARTH_MEAN_RADIUS_KM * np.arcsin(np.minimum(half_chord, 1.0)))


def nearest_first(
    p: Point,
    *,
    lats: npt.NDArray[np.float64],
    lngs: npt.NDArray[np.float64],
    ranks: npt.NDArray[np.int64] | npt.NDArray[np.float64],
    rough: npt.NDArray[np.float64] | None = None,
) -> Iterator[tuple[int, float]]:
    """Indices of the points with their geodesic km from ``p``, nearest first (ties by rank);
    ``rough``, if given, is each one's ``haversine_km`` (or ``great_circle_km``)."""
    for found, km in nearest_runs(p, lats=lats, lngs=lngs, ranks=ranks, rough=rough):
        yield from zip(found.tolist(), km.tolist(), strict=True)


def nearest_runs(
    p: Point,
    *,
    lats: npt.NDArray[np.float64],
    lngs: npt.NDArray[np.float64],
    ranks: npt.NDArray[np.int64] | npt.NDArray[np.float64],
    rough: npt.NDArray[np.float64] | None = None,
    first: int = FIRST_GEODESICS,
    among: npt.NDArray[np.int64] | None = None,
) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]:
    """``nearest_first`` a run at a time: indices and geodesic km, in order; the first run
    holds at least the ``first`` nearest (all if not twice as many), each later one four
    times more. With ``among`` (and ``rough`` for each of it) only those points are ranked,
    by their indices in ``among``: the arrays are read for the measured points alone.

    Geodesics cost about a microsecond each, so they are computed lazily in rounds taken in
    haversine order (each round found by a partition, not a sort of all): a round measures
    every point that may be among the next ``wanted`` nearest (its haversine within
    ``_WIDEN`` of the ``wanted``-th smallest), after which those ``wanted`` at least are below
    what any unmeasured point's geodesic can be; they are sorted and given out.
    """
    if among is None:
        among = np.arange(len(lats))
    if rough is None:
        rough = haversine_km(p, lats=lats[among], lngs=lngs[among])
    waiting = np.empty(0, dtype=np.int64)  # computed, not given out yet
    waiting_km = np.empty(0)
    remaining = np.arange(len(rough))
    wanted = max(first, 1)
    while len(remaining):
        if 2 * wanted < len(remaining):  # else a round costs more than the rest's geodesics
            near = rough[remaining]
            taken = near <= np.partition(near, wanted - 1)[wanted - 1] * _WIDEN
            least = float(near[~taken].min(initial=math.inf)) - GREAT_CIRCLE_ERROR_KM
            bound = least * (1 - HAVERSINE_SLACK)
            batch, remaining = remaining[taken], remaining[~taken]
        else:
            batch, remaining, bound = remaining, remaining[:0], math.inf
        rows = among[batch]
        km = geodesic_km(p, lats=lats[rows], lngs=lngs[rows])
        if len(waiting):
            batch, km = np.concatenate([waiting, batch]), np.concatenate([waiting_km, km])
        wanted *= 4
        ready = km < bound
        if ready.all():
            waiting, waiting_km = batch[:0], km[:0]
        else:
            waiting, waiting_km = batch[~ready], km[~ready]
            batch, km = batch[ready], km[ready]
        if len(batch):
            order = np.lexsort((ranks[among[batch]], km))
            yield batch[order], km[order]


def circle(p: Point, *, radius_km: float, vertices: int = 64) -> Polygon:
    """A geodesic circle as a polygon, its longitudes kept continuous across the antimeridian."""
    return circles([p], radii_km=[radius_km], vertices=vertices)[0]


def circles(
    centres: Sequence[Point], *, radii_km: Sequence[float], vertices: int = 64
) -> list[Polygon]:
    """Many geodesic circles, as ``circle`` draws each, a vectorised batch at a time."""
    return [
        shape
        for start in range(0, len(centres), CIRCLE_BATCH)
        for shape in _circle_batch(
            centres[start : start + CIRCLE_BATCH],
            radii_km=radii_km[start : start + CIRCLE_BATCH],
            vertices=vertices,
        )
    ]


def _circle_batch(
    centres: Sequence[Point], *, radii_km: Sequence[float], vertices: int
) -> list[Polygon]:
    """Geodesic circles in a few PROJ calls over arrays of every vertex."""
    centre_lngs = np.array([p.lng for p in centres], dtype=np.float64)
    centre_lats = np.array([p.lat for p in centres], dtype=np.float64)
    metres = np.asarray(radii_km, dtype=np.float64) * 1000.0
    lngs = np.repeat(centre_lngs, vertices)
    bearings = np.tile(np.linspace(0.0, 360.0, vertices, endpoint=False), len(centres))
    ends_lng, ends_lat, _ = WGS84.fwd(
        lngs, np.repeat(centre_lats, vertices), bearings, np.repeat(metres, vertices)
    )
    unwrapped = lngs + (np.asarray(ends_lng) - lngs + 180.0) % 360.0 - 180.0
    rings = np.column_stack([unwrapped, ends_lat]).reshape(len(centres), vertices, 2)
    shapes = list(shapely.polygons(rings))
    _, _, to_pole = WGS84.inv(centre_lngs, centre_lats, centre_lngs, np.copysign(90.0, centre_lats))
    for k in np.flatnonzero(np.asarray(to_pole) < metres).tolist():
        shapes[k] = polar_cap(centres[k], rings[k])
    return shapes


def polar_cap(p: Point, ring: npt.NDArray[np.float64]) -> Polygon:
    """A circle around ``p`` that holds a pole, from its edge ``ring`` of (lng, lat) vertices.

    In lng/lat it is the cap from its edge to the pole over one whole turn of longitude, cut at
    the meridian opposite the centre.
    """
    pole = math.copysign(90.0, p.lat)
    edge = sorted((lng, lat) for lng, lat in ring.tolist())
    (west_lng, west_lat), (east_lng, east_lat) = edge[0], edge[-1]
    seam = p.lng + 180.0
    seam_lat = east_lat + (west_lat - east_lat) * (seam - east_lng) / (west_lng + 360.0 - east_lng)
    return Polygon(
        [(seam - 360.0, seam_lat), *edge, (seam, seam_lat), (seam, pole), (seam - 360.0, pole)]
    )


def lng_variants(lng: float) -> tuple[float, float, float]:
    """The same meridian at -360, 0 and +360 degrees, to test shapes that pass ±180."""
    return (lng - 360.0, lng, lng + 360.0)
