"""Point validation, coarsening, geohashes, search boxes and geodesic distances on WGS84."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import Point as ShapelyPoint
from shapely.geometry import Polygon

from matcher.errors import InvalidArgument
from matcher.geo.geometry import (
    Box,
    circle,
    coarsen,
    decode_geohash,
    geodesic_km,
    lng_variants,
    point,
    search_boxes,
)
from matcher.model import Point

GEOD = Geod(ellps="WGS84")
PROPERTY = settings(max_examples=200, deadline=None)
#: The worst case of coarsening is the cell around a pole: about 0.875 cell_km (see below).
COARSE_BOUND = 0.9

LONDON = Point(lat=51.5074, lng=-0.1278)
PARIS = Point(lat=48.8566, lng=2.3522)
APIA = Point(lat=-13.8333, lng=-171.7667)
PAGO_PAGO = Point(lat=-14.2781, lng=-170.7025)
SUVA = Point(lat=-18.1248, lng=178.4501)
LAKEBA = Point(lat=-18.2, lng=-178.8)


def wrap_lng(lng: float) -> float:
    """Maps any longitude into [-180, 180)."""
    return (lng + 180.0) % 360.0 - 180.0


def km_between(a: Point, b: Point) -> float:
    """The geodesic distance by pyproj directly, the reference the code must agree with."""
    _, _, metres = GEOD.inv(a.lng, a.lat, b.lng, b.lat)
    return float(metres) / 1000.0


def moved(p: Point, *, azimuth: float, km: float) -> Point:
    """The point ``km`` from ``p`` along a geodesic leaving at ``azimuth``, lng in [-180, 180)."""
    lng, lat, _ = GEOD.fwd(p.lng, p.lat, azimuth, km * 1000.0)
    return Point(lat=float(lat), lng=wrap_lng(float(lng)))


def in_box(p: Point, box: Box) -> bool:
    min_lng, min_lat, max_lng, max_lat = box
    return min_lng <= p.lng <= max_lng and min_lat <= p.lat <= max_lat


latitudes = st.floats(min_value=-89.9, max_value=89.9)
longitudes = st.floats(min_value=-180.0, max_value=180.0, exclude_max=True)
near_antimeridian = st.one_of(
    st.floats(min_value=170.0, max_value=180.0, exclude_max=True),
    st.floats(min_value=-180.0, max_value=-170.0),
)
centres = st.builds(
    lambda lat, lng: Point(lat=lat, lng=lng),
    st.one_of(latitudes, st.sampled_from([0.0, 45.0, 78.2, 89.9, -89.9, 85.0, -85.0])),
    st.one_of(longitudes, near_antimeridian),
)


# point()


@pytest.mark.parametrize(
    ("lat", "lng", "field"),
    [
        (math.nan, 0.0, "location.point.lat"),
        (0.0, math.nan, "location.point.lng"),
        (math.inf, 0.0, "location.point.lat"),
        (-math.inf, 0.0, "location.point.lat"),
        (0.0, math.inf, "location.point.lng"),
        (90.0001, 0.0, "location.point.lat"),
        (-90.0001, 0.0, "location.point.lat"),
        (0.0, 180.5, "location.point.lng"),
        (0.0, -180.5, "location.point.lng"),
    ],
)
def test_point_refuses_bad_degrees_naming_the_field(lat: float, lng: float, field: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        point(lat=lat, lng=lng, field="location.point")
    assert [v.field for v in raised.value.violations] == [field]


def test_point_names_fields_under_the_prefix_it_was_given() -> None:
    with pytest.raises(InvalidArgument) as raised:
        point(lat=0.0, lng=200.0, field="where")
    assert [v.field for v in raised.value.violations] == ["where.lng"]


@pytest.mark.parametrize(
    ("lat", "lng", "expected"),
    [
        (0.0, 180.0, Point(lat=0.0, lng=-180.0)),
        (0.0, -180.0, Point(lat=0.0, lng=-180.0)),
        (90.0, 0.0, Point(lat=90.0, lng=0.0)),
        (-90.0, 179.999, Point(lat=-90.0, lng=179.999)),
    ],
)
def test_point_accepts_the_edges_and_wraps_180_to_minus_180(
    lat: float, lng: float, expected: Point
) -> None:
    found = point(lat=lat, lng=lng, field="location.point")
    assert found.lat == expected.lat
    assert found.lng == pytest.approx(expected.lng, abs=1e-12)


# coarsen()


@pytest.mark.parametrize("cell_km", [1.0, 5.0, 25.0])
@pytest.mark.parametrize(
    ("lat", "lng"),
    [
        (0.0, 0.0),
        (45.0, 7.3),
        (78.2232, 15.6267),
        (89.9, -42.0),
        (-89.9, 123.4),
        (89.999, 179.9),
        (-17.2, 179.999),
        (-17.2, -180.0),
        (90.0, 0.0),
        (-90.0, 0.0),
    ],
)
def test_coarse_point_is_near_the_raw_point(lat: float, lng: float, cell_km: float) -> None:
    raw = Point(lat=lat, lng=lng)
    assert km_between(raw, coarsen(raw, cell_km=cell_km)) <= COARSE_BOUND * cell_km


@PROPERTY
@given(
    raw=st.builds(
        lambda lat, lng: Point(lat=lat, lng=lng),
        st.floats(min_value=-90.0, max_value=90.0),
        longitudes,
    ),
    cell_km=st.sampled_from([0.5, 1.0, 5.0, 25.0]),
)
def test_coarse_point_is_within_the_cell_bound_anywhere(raw: Point, cell_km: float) -> None:
    """The worst cell is a pole's: raw ~1.01 cell from the pole, its centre ~0.5 and 60° around.

    That is sqrt(1.01² + 0.505² - 1.01 * 0.505) ≈ 0.875 cell_km; elsewhere a cell's half
    diagonal is about 0.71 cell_km.
    """
    assert km_between(raw, coarsen(raw, cell_km=cell_km)) <= COARSE_BOUND * cell_km


@PROPERTY
@given(raw=centres, cell_km=st.sampled_from([0.5, 1.0, 5.0, 25.0]))
def test_coarsen_is_idempotent_and_deterministic(raw: Point, cell_km: float) -> None:
    coarse = coarsen(raw, cell_km=cell_km)
    assert coarsen(raw, cell_km=cell_km) == coarse
    assert coarsen(coarse, cell_km=cell_km) == coarse


@PROPERTY
@given(
    raw=centres,
    cell_km=st.sampled_from([0.5, 1.0, 5.0, 25.0]),
    azimuth=st.floats(min_value=0.0, max_value=360.0),
    fraction=st.floats(min_value=0.0, max_value=0.2),
)
def test_points_sharing_a_cell_share_the_coarse_point(
    raw: Point, cell_km: float, azimuth: float, fraction: float
) -> None:
    """Anything within a fifth of a cell of a cell's centre is in that cell."""
    centre = coarsen(raw, cell_km=cell_km)
    neighbour = moved(centre, azimuth=azimuth, km=fraction * cell_km)
    assert coarsen(neighbour, cell_km=cell_km) == centre


def test_two_points_in_one_cell_map_to_one_coarse_point() -> None:
    a = Point(lat=51.50740, lng=-0.12780)
    b = moved(coarsen(a, cell_km=1.0), azimuth=30.0, km=0.1)
    assert coarsen(b, cell_km=1.0) == coarsen(a, cell_km=1.0)


def test_points_three_cells_apart_map_to_different_coarse_points() -> None:
    a = Point(lat=51.5074, lng=-0.1278)
    assert coarsen(a, cell_km=1.0) != coarsen(moved(a, azimuth=90.0, km=3.0), cell_km=1.0)


def test_coarse_longitude_stays_in_range_near_the_antimeridian() -> None:
    for lng in (-180.0, -179.9999, 179.9999):
        coarse = coarsen(Point(lat=-17.2, lng=lng), cell_km=1.0)
        assert -180.0 <= coarse.lng < 180.0


# decode_geohash()


@pytest.mark.parametrize(
    ("code", "lat", "lng", "tolerance"),
    [
        ("u4pruydqqvj", 57.64911, 10.40744, 1e-5),
        ("U4PRUYDQQVJ", 57.64911, 10.40744, 1e-5),
        ("9q5", 34.453125, -118.828125, 1e-9),  # Los Angeles: [33.75, 35.16] x [-119.53, -118.125]
        ("s", 22.5, 22.5, 1e-9),
        ("0", -67.5, -157.5, 1e-9),
    ],
)
def test_decode_geohash_known_values(code: str, lat: float, lng: float, tolerance: float) -> None:
    centre = decode_geohash(code, field="location.geohash")
    assert centre.lat == pytest.approx(lat, abs=tolerance)
    assert centre.lng == pytest.approx(lng, abs=tolerance)


def test_decode_geohash_accepts_twelve_characters() -> None:
    assert decode_geohash("u4pruydqqvjq", field="location.geohash").lat == pytest.approx(
        57.64911, abs=1e-5
    )


@pytest.mark.parametrize("code", ["a", "i", "l", "o", "", "u4pruydqqvjqq", "9q 5", "9q5!"])
def test_decode_geohash_refuses_bad_codes_naming_the_field(code: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        decode_geohash(code, field="location.geohash")
    assert [v.field for v in raised.value.violations] == ["location.geohash"]


# search_boxes()


@PROPERTY
@given(
    centre=centres,
    radius_km=st.floats(min_value=1.0, max_value=500.0),
    azimuth=st.floats(min_value=0.0, max_value=360.0),
    fraction=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
def test_search_boxes_cover_every_point_within_the_radius(
    centre: Point, radius_km: float, azimuth: float, fraction: float
) -> None:
    target = moved(centre, azimuth=azimuth, km=fraction * radius_km)
    boxes = search_boxes(centre, radius_km=radius_km)
    assert any(in_box(target, box) for box in boxes), (target, boxes)


@PROPERTY
@given(centre=centres, radius_km=st.floats(min_value=1.0, max_value=500.0))
def test_search_boxes_stay_on_the_globe(centre: Point, radius_km: float) -> None:
    for min_lng, min_lat, max_lng, max_lat in search_boxes(centre, radius_km=radius_km):
        assert -180.0 <= min_lng <= max_lng <= 180.0
        assert -90.0 <= min_lat <= max_lat <= 90.0


@PROPERTY
@given(centre=centres, radius_km=st.floats(min_value=1.0, max_value=500.0))
def test_search_boxes_split_exactly_when_the_circle_crosses_180(
    centre: Point, radius_km: float
) -> None:
    boxes = search_boxes(centre, radius_km=radius_km)
    if len(boxes) == 2:
        (west_box, east_box) = boxes
        assert west_box[2] == 180.0
        assert east_box[0] == -180.0
    else:
        (box,) = boxes
        spans_all = (box[0], box[2]) == (-180.0, 180.0)
        assert spans_all or -180.0 < box[0] <= box[2] < 180.0


@pytest.mark.parametrize(
    ("centre", "split"),
    [
        (Point(lat=-17.2, lng=179.9), True),
        (Point(lat=-17.2, lng=-179.9), True),
        (Point(lat=-17.2, lng=178.0), False),
        (Point(lat=-17.2, lng=-178.0), False),
        (Point(lat=0.0, lng=0.0), False),
    ],
)
def test_search_box_split_near_the_antimeridian(centre: Point, split: bool) -> None:
    """A 25 km circle reaches ±180 from 0.1° away (~10.6 km) but not from 2° (~212 km)."""
    assert (len(search_boxes(centre, radius_km=25.0)) == 2) is split


def test_search_boxes_near_a_pole_span_every_longitude() -> None:
    (box,) = search_boxes(Point(lat=89.9, lng=10.0), radius_km=25.0)
    assert (box[0], box[2], box[3]) == (-180.0, 180.0, 90.0)
    assert box[1] == pytest.approx(89.9 - 25.0 / 110.574)


# geodesic_km()


@pytest.mark.parametrize(
    ("a", "b", "km", "tolerance"),
    [
        (LONDON, PARIS, 343.5, 1.0),
        (APIA, PAGO_PAGO, 125.0, 2.0),
        (SUVA, LAKEBA, 290.0, 3.0),
    ],
    ids=["London-Paris", "Apia-Pago Pago", "Suva-Lakeba across 180"],
)
def test_geodesic_km_known_distances(a: Point, b: Point, km: float, tolerance: float) -> None:
    (found,) = geodesic_km(a, lats=np.array([b.lat]), lngs=np.array([b.lng]))
    assert found == pytest.approx(km, abs=tolerance)


@PROPERTY
@given(a=centres, others=st.lists(centres, max_size=5))
def test_geodesic_km_agrees_with_pyproj(a: Point, others: list[Point]) -> None:
    lats = np.array([b.lat for b in others])
    lngs = np.array([b.lng for b in others])
    expected = [km_between(a, b) for b in others]
    assert geodesic_km(a, lats=lats, lngs=lngs).tolist() == pytest.approx(expected, abs=1e-6)


def test_geodesic_km_of_no_points_is_empty() -> None:
    assert geodesic_km(LONDON, lats=np.array([]), lngs=np.array([])).size == 0


# circle()


@pytest.mark.parametrize(
    "centre",
    [LONDON, SUVA, Point(lat=-17.3, lng=179.9), Point(lat=-17.3, lng=-179.9), Point(78.2, 15.6)],
)
def test_circle_contains_its_centre_and_its_vertices_lie_at_the_radius(centre: Point) -> None:
    area = circle(centre, radius_km=15.0)
    assert area.is_valid
    assert area.contains(ShapelyPoint(centre.lng, centre.lat))
    for lng, lat in list(area.exterior.coords)[:-1]:
        vertex = Point(lat=lat, lng=wrap_lng(lng))
        assert km_between(centre, vertex) == pytest.approx(15.0, abs=1e-6)


@pytest.mark.parametrize(
    "centre",
    [Point(-89.99, 0.0), Point(-89.9, 139.0), Point(89.0, 10.0), Point(89.9, -179.9)],
)
def test_circle_holding_a_pole_contains_its_centre_and_the_pole(centre: Point) -> None:
    """A home-visit area around a pole spans every longitude, from its edge to the pole."""
    area = circle(centre, radius_km=200.0)
    pole = 90.0 if centre.lat > 0 else -90.0
    assert area.is_valid
    assert area.contains(ShapelyPoint(centre.lng, centre.lat))
    assert area.covers(ShapelyPoint(centre.lng, pole))
    assert area.bounds[2] - area.bounds[0] == pytest.approx(360.0)


@pytest.mark.parametrize("centre", [Point(90.0, 0.0), Point(-90.0, 50.0)])
def test_circle_centred_on_a_pole_covers_it(centre: Point) -> None:
    """In lng/lat a pole is a line, the circle's edge: covered, not strictly contained."""
    area = circle(centre, radius_km=15.0)
    assert area.is_valid
    assert area.covers(ShapelyPoint(centre.lng, centre.lat))


def covered(area: Polygon, p: Point) -> bool:
    """Whether an area holds a point, as the catalogue asks: on either side of ±180."""
    return any(area.covers(ShapelyPoint(lng, p.lat)) for lng in lng_variants(p.lng))


@PROPERTY
@given(
    centre=st.builds(
        lambda lat, lng: Point(lat=lat, lng=lng),
        st.one_of(
            st.floats(min_value=-90.0, max_value=90.0),
            st.floats(min_value=85.0, max_value=90.0),
            st.floats(min_value=-90.0, max_value=-85.0),
        ),
        st.one_of(longitudes, near_antimeridian),
    ),
    radius_km=st.floats(min_value=1.0, max_value=200.0),
    azimuth=st.floats(min_value=0.0, max_value=360.0),
    inside=st.floats(min_value=0.0, max_value=0.95),
    outside=st.floats(min_value=1.05, max_value=2.0),
)
def test_circle_holds_what_is_within_its_radius_and_nothing_beyond(
    centre: Point, radius_km: float, azimuth: float, inside: float, outside: float
) -> None:
    """Allowing 5% for the 64-gon's chords, anywhere on the globe, poles included."""
    area = circle(centre, radius_km=radius_km)
    assert area.is_valid
    assert covered(area, moved(centre, azimuth=azimuth, km=inside * radius_km))
    assert not covered(area, moved(centre, azimuth=azimuth, km=outside * radius_km))


def test_circle_across_the_antimeridian_keeps_longitudes_continuous() -> None:
    min_lng, _, max_lng, _ = circle(Point(lat=-17.3, lng=179.9), radius_km=15.0).bounds
    assert 179.0 < min_lng < 179.9 < 180.0 < max_lng < 181.0


def test_lng_variants_are_one_turn_apart() -> None:
    assert lng_variants(-179.9) == (-539.9, -179.9, 180.1)
