"""A supplier record: who it is, what care it gives, where, and the area it visits at home.

The feed schema has checked every field's type and range; what is left is what it cannot say:
a real zone, vocabularies, a point on Earth once converted from the header's CRS, a valid
polygon.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial

import shapely
from shapely.errors import GEOSException
from shapely.geometry import Polygon, shape
from shapely.validation import explain_validity

from matcher.feeds.crs import Crs
from matcher.feeds.files import Problems, Record
from matcher.feeds.messages import clipped, did_you_mean
from matcher.feeds.shared import Shared
from matcher.geo.geometry import circles
from matcher.geo.timezones import known_zones
from matcher.model import Availability, Modality, Point, Supplier
from matcher.vocabulary import UnknownTerm, Vocabulary, languages, specialties

NO_AVAILABILITY = Availability()  # a supplier's until its availability line is read
#: What a Drawn holds once its finished supplier has been made.
FINISHED = Supplier(
    id="",
    name="",
    specialties=(),
    languages=(),
    modalities=frozenset(),
    timezone="UTC",
    location=Point(lat=0.0, lng=0.0),
    availability=NO_AVAILABILITY,
)


def supplier(record: Record, shared: Shared, *, crs: Crs | None) -> Drawn:
    """A checked supplier line, with no availability yet."""
    data = record.data
    timezone = data["timezone"]
    if timezone not in known_zones():
        raise record.fail("timezone", _unknown_zone(timezone))
    terms, problems = {}, []
    for name, vocabulary in (("specialties", specialties()), ("languages", languages())):
        try:
            terms[name] = shared.made(
                record, name, partial(_terms, record, name, vocabulary), strings=True
            )
        except Problems as exc:
            problems.extend(exc.errors)
    if problems:
        raise Problems(problems)
    modalities = shared.made(
        record, "modalities", lambda: frozenset(map(Modality, data["modalities"])), strings=True
    )
    area = _service_area(record, crs=crs)
    return Drawn(
        Supplier(
            id=data["id"],
            name=data["name"],
            specialties=terms["specialties"],
            languages=terms["languages"],
            modalities=modalities,
            timezone=shared(timezone),
            location=_location(record, crs),
            service_area=area if isinstance(area, Polygon) else None,
            availability=NO_AVAILABILITY,
        ),
        radius_km=area if isinstance(area, float) else None,
    )


@dataclass(slots=True)
class Drawn:
    """A supplier as its line gives it, and its availability once that line is read; a circular
    area is drawn later with all the others."""

    supplier: Supplier  # with no availability and no circular area
    radius_km: float | None
    availability: Availability = NO_AVAILABILITY


def finished(drawn: Sequence[Drawn]) -> list[Supplier]:
    """The suppliers, each with its availability and its circular area (drawn in one batch).

    Each Drawn lets go of its draft supplier as the finished one is made, so a large feed never
    holds both at once.
    """
    round_areas = [d for d in drawn if d.radius_km is not None]
    circles_drawn = circles(
        [d.supplier.location for d in round_areas],
        radii_km=[d.radius_km or 0.0 for d in round_areas],
    )
    areas = {id(d): area for d, area in zip(round_areas, circles_drawn, strict=True)}
    done = []
    for d in drawn:
        area = areas.pop(id(d), d.supplier.service_area)
        done.append(replace(d.supplier, availability=d.availability, service_area=area))
        d.supplier, d.availability = FINISHED, NO_AVAILABILITY
    return done


def _unknown_zone(name: str) -> str:
    """Why a zone id is refused, with the nearest real ones."""
    hint = did_you_mean(name, sorted(known_zones()), most=2)
    return f"must be an IANA time zone id such as 'Asia/Kathmandu', got {clipped(name)}{hint}"


def _terms(record: Record, name: str, vocabulary: Vocabulary) -> tuple[str, ...]:
    """A list field's values in their canonical form, each once; Problems names every unknown
    one."""
    found, unknown = [], []
    for k, value in enumerate(record.data.get(name, ())):
        try:
            found.append(vocabulary.canonical(value))
        except UnknownTerm as exc:
            unknown.append(record.fail(f"{name}[{k}]", exc.describe()))
    if unknown:
        raise Problems(unknown)
    return tuple(dict.fromkeys(found))


def _location(record: Record, crs: Crs | None) -> Point:
    """A supplier's place: lat/lng degrees in version 1, x/y in the header's CRS from 2."""
    location = record.data["location"]
    if crs is None:
        return Point(lat=float(location["lat"]), lng=float(location["lng"]))
    x, y = float(location["x"]), float(location["y"])
    lng, lat = crs.lng_lat(x, y)
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):  # also false for NaN
        raise record.fail(
            "location", f"must be a point on Earth in {crs.code}, got x {x:g}, y {y:g}"
        )
    return Point(lat=lat, lng=lng)


def _service_area(record: Record, *, crs: Crs | None) -> Polygon | float | None:
    """A HOME_VISIT supplier's area: a radius in km around it, or a valid polygon in WGS84."""
    area = record.nested("service_area")
    if area is None:
        return None
    kind, value = next(iter(area.data.items()))  # the schema allows exactly one
    if kind == "radius_km":
        return float(value)
    written = _polygon(area, kind, crs=crs)
    polygon = crs.polygon(written) if crs else written
    if not polygon.is_valid or polygon.is_empty:
        raise area.fail(kind, f"must be a valid polygon, got one with {explain_validity(polygon)}")
    return polygon


def _polygon(area: Record, kind: str, *, crs: Crs | None) -> Polygon:
    """A service area as written: a ring of coordinate pairs, a GeoJSON Polygon, or WKT."""
    value = area.data[kind]
    if kind == "polygon":
        return Polygon([(float(x), float(y)) for x, y in value])
    try:
        found = shape(value) if kind == "geojson" else shapely.from_wkt(value)
    except (TypeError, ValueError, KeyError, AttributeError, GEOSException) as exc:
        raise area.fail(kind, f"must be a polygon, got {clipped(value)}: {exc}") from None
    if not isinstance(found, Polygon):
        raise area.fail(kind, f"must be a Polygon, got a {found.geom_type}")
    return found
