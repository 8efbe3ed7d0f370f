"""Coordinates in a declared EPSG CRS become WGS84 degrees, checked against published figures."""

from __future__ import annotations

import math

import pytest
from shapely.geometry import Polygon

from matcher.feeds.crs import Crs

WEB_MERCATOR_RADIUS_M = 6378137.0


def web_mercator_inverse(x: float, y: float) -> tuple[float, float]:
    """EPSG method 1024 (Popular Visualisation Pseudo Mercator) reversed, from its formulas."""
    lng = math.degrees(x / WEB_MERCATOR_RADIUS_M)
    lat = math.degrees(2 * math.atan(math.exp(y / WEB_MERCATOR_RADIUS_M)) - math.pi / 2)
    return lng, lat


def test_web_mercator_downtown_los_angeles_matches_the_closed_formulas():
    lng, lat = Crs("EPSG:3857").lng_lat(-13163881.6, 4035973.9)
    assert (lng, lat) == pytest.approx((-118.253160, 34.053395), abs=1e-6)
    assert (lng, lat) == pytest.approx(web_mercator_inverse(-13163881.6, 4035973.9), abs=1e-9)


def test_web_mercator_matches_the_epsg_guidance_note_example():
    # IOGP Guidance Note 7-2, WGS 84 / Pseudo-Mercator: 24°22'54.433"N 100°20'00.000"W
    # is E = -11 169 055.58 m, N = 2 800 000.00 m.
    lng, lat = Crs("EPSG:3857").lng_lat(-11169055.58, 2800000.00)
    assert lng == pytest.approx(-(100 + 20 / 60), abs=1e-6)
    assert lat == pytest.approx(24 + 22 / 60 + 54.433 / 3600, abs=1e-6)


def test_wgs84_is_taken_as_written():
    assert Crs("EPSG:4326").lng_lat(181.5, -18.0) == (181.5, -18.0)


def test_a_point_the_crs_cannot_place_is_not_finite():
    lng, lat = Crs("EPSG:27700").lng_lat(1e8, 1e8)
    assert not (math.isfinite(lng) and math.isfinite(lat))


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("WGS84", "must be an EPSG code such as 'EPSG:3857'"),
        ("epsg:3857", "must be an EPSG code such as 'EPSG:3857'"),
        ("EPSG:999999", "'EPSG:999999' is not in the EPSG database"),
    ],
)
def test_only_known_epsg_codes_are_accepted(code, reason):
    with pytest.raises(ValueError, match=reason):
        Crs(code)


def test_a_polygon_across_the_antimeridian_stays_continuous():
    ring = [
        (19_900_000, -2_000_000),
        (20_200_000, -2_000_000),
        (20_200_000, -1_800_000),
        (19_900_000, -1_800_000),
        (19_900_000, -2_000_000),
    ]
    area = Crs("EPSG:3857").polygon(Polygon(ring))
    assert area.is_valid
    min_lng, _, max_lng, _ = area.bounds
    assert min_lng == pytest.approx(178.7647, abs=1e-4)
    assert max_lng == pytest.approx(181.4597, abs=1e-4)
