"""A supplier record: who it is, what care it gives, where, and the area it visits at home."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import shapely
from shapely.errors import GEOSException
from shapely.geometry import Polygon, shape
from shapely.validation import explain_validity

from matcher.feeds.crs import Crs
from matcher.feeds.files import Record
from matcher.feeds.shared import Shared
from matcher.geo.geometry import circles
from matcher.geo.timezones import known_zones
from matcher.model import Availability, Modality, Point, Supplier

NO_AVAILABILITY = Availability()  # a supplier's until its availability line is read
#: Version 2 coordinates are (x, y) in the header's CRS, never beyond this in absolute value.
COORDINATE_LIMIT = 1e9
AREA_KINDS = ("radius_km", "polygon", "geojson", "wkt")
MAX_AREA_RADIUS_KM = 200.0


def supplier(record: Record, shared: Shared, *, supplier_id: str, crs: Crs | None) -> Drawn:
    """A checked supplier line, with no availability yet."""
    modalities = _modalities(record)
    timezone = record.text("timezone")
    if timezone not in known_zones():
        raise record.fail("timezone", f"{timezone!r} is not an IANA timezone id")
    where = _location(record, crs)
    area = _service_area(record, needed=Modality.HOME_VISIT in modalities, crs=crs)
    return Drawn(
        Supplier(
            id=supplier_id,
            name=record.text("name"),
            specialties=shared(record.strings("specialties")),
            languages=shared(record.strings("languages", required=False)),
            modalities=shared(modalities),
            timezone=shared(timezone),
            location=where,
            service_area=area if isinstance(area, Polygon) else None,
            availability=NO_AVAILABILITY,
        ),
        radius_km=area if isinstance(area, float) else None,
    )


@dataclass(frozen=True, slots=True)
class Drawn:
    """A supplier as its line gives it; a circular area is drawn later with all the others."""

    supplier: Supplier
    radius_km: float | None


def with_circles(drawn: Sequence[Drawn]) -> list[Supplier]:
    """The suppliers, each circular service area drawn, in one vectorised batch."""
    round_areas = [d for d in drawn if d.radius_km is not None]
    circles_drawn = circles(
        [d.supplier.location for d in round_areas],
        radii_km=[d.radius_km or 0.0 for d in round_areas],
    )
    areas = {id(d): area for d, area in zip(round_areas, circles_drawn, strict=True)}
    return [
        replace(d.supplier, service_area=areas[id(d)]) if id(d) in areas else d.supplier
        for d in drawn
    ]


def _modalities(record: Record) -> frozenset[Modality]:
    """A non-empty set of known modalities."""
    names = record.strings("modalities")
    if not names:
        raise record.fail("modalities", "must name at least one of IN_PERSON, HOME_VISIT, REMOTE")
    try:
        return frozenset(Modality(n) for n in names)
    except ValueError as exc:
        raise record.fail("modalities", f"{exc}; use IN_PERSON, HOME_VISIT or REMOTE") from None


def _location(record: Record, crs: Crs | None) -> Point:
    """A supplier's place: lat/lng degrees in version 1, x/y in the header's CRS from 2."""
    location = record.nested("location")
    assert location is not None
    if crs is None:
        return Point(
            lat=location.number("lat", low=-90, high=90),
            lng=location.number("lng", low=-180, high=180),
        )
    x = location.number("x", low=-COORDINATE_LIMIT, high=COORDINATE_LIMIT)
    y = location.number("y", low=-COORDINATE_LIMIT, high=COORDINATE_LIMIT)
    lng, lat = crs.lng_lat(x, y)
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):  # also false for NaN
        raise record.fail("location", f"({x:g}, {y:g}) in {crs.code} is not a point on Earth")
    return Point(lat=lat, lng=lng)


def _service_area(record: Record, *, needed: bool, crs: Crs | None) -> Polygon | float | None:
    """A HOME_VISIT supplier's area: a radius in km around it, or a valid polygon in WGS84."""
    area = record.nested("service_area", required=needed)
    if area is None:
        return None
    given = [k for k in AREA_KINDS if k in area.data]
    if len(given) != 1:
        raise record.fail("service_area", f"must give exactly one of {', '.join(AREA_KINDS)}")
    kind = given[0]
    if kind == "radius_km":
        radius = area.number("radius_km", low=0, high=MAX_AREA_RADIUS_KM)
        if radius == 0:
            raise area.fail("radius_km", "must be greater than 0")
        return radius
    if crs is None and kind != "polygon":
        raise area.fail(kind, "needs format_version 2")
    written = _polygon(area, kind, crs=crs)
    polygon = crs.polygon(written) if crs else written
    if not polygon.is_valid or polygon.is_empty:
        raise area.fail(kind, f"is not a valid polygon: {explain_validity(polygon)}")
    return polygon


def _polygon(area: Record, kind: str, *, crs: Crs | None) -> Polygon:
    """A service area as written: a ring of coordinate pairs, a GeoJSON Polygon, or WKT."""
    if kind == "polygon":
        try:
            return Polygon([(float(x), float(y)) for x, y in area.get("polygon", list)])
        except (TypeError, ValueError):
            pairs = "[x, y]" if crs else "[lng, lat]"
            raise area.fail(kind, f"must be a ring of {pairs} pairs") from None
    try:
        found = (
            shape(area.get("geojson", dict))
            if kind == "geojson"
            else shapely.from_wkt(area.text("wkt"))
        )
    except (TypeError, ValueError, KeyError, GEOSException) as exc:
        raise area.fail(kind, f"is not a polygon: {exc}") from None
    if not isinstance(found, Polygon):
        raise area.fail(kind, f"must be a Polygon, not {found.geom_type}")
    return found
