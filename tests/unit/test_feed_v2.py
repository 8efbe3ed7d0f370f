"""Format version 2: x/y in the header's EPSG CRS, and service areas as GeoJSON or WKT."""

from __future__ import annotations

import pytest
from shapely.geometry import Polygon

from matcher.errors import FeedRejected
from matcher.feeds import load_feed
from tests.feed_files import tiny_records, version_2, write_feed

LA_PEDS = 23  # index of la-peds's supplier record: line 24
SQUARE = [[-118.5, 33.9], [-118.0, 33.9], [-118.0, 34.3], [-118.5, 34.3], [-118.5, 33.9]]


def test_web_mercator_coordinates_load_as_the_same_places(tmp_path):
    plain = load_feed(write_feed(tmp_path / "v1.jsonl", tiny_records()))
    mercator = version_2(tiny_records(), crs="EPSG:3857")
    feed = load_feed(write_feed(tmp_path / "v2.jsonl", mercator))
    assert feed.format_version == 2
    for before, after in zip(plain.suppliers, feed.suppliers, strict=True):
        assert (after.location.lat, after.location.lng) == pytest.approx(
            (before.location.lat, before.location.lng), abs=1e-9
        )
        if before.service_area is not None and after.service_area is not None:
            assert after.service_area.symmetric_difference(before.service_area).area < 1e-9


@pytest.mark.parametrize(
    "area",
    [
        {"geojson": {"type": "Polygon", "coordinates": [SQUARE]}},
        {"wkt": "POLYGON ((-118.5 33.9, -118 33.9, -118 34.3, -118.5 34.3, -118.5 33.9))"},
    ],
    ids=["geojson", "wkt"],
)
def test_a_service_area_may_be_geojson_or_wkt(tmp_path, area):
    records = version_2(tiny_records())
    records[LA_PEDS]["service_area"] = area
    feed = load_feed(write_feed(tmp_path / "feed.jsonl", records))
    la_peds = next(s for s in feed.suppliers if s.id == "la-peds")
    assert la_peds.service_area is not None
    assert la_peds.service_area.equals(Polygon(SQUARE))


def refused(tmp_path, records):
    """The (line, field, reason) of every problem of a refused feed."""
    with pytest.raises(FeedRejected) as caught:
        load_feed(write_feed(tmp_path / "feed.jsonl", records))
    return [(e.line, e.field, e.reason) for e in caught.value.errors]


def test_a_crs_needs_version_2(tmp_path):
    records = tiny_records()
    records[0]["crs"] = "EPSG:3857"
    assert refused(tmp_path, records) == [(1, "crs", "needs format_version 2, got 'EPSG:3857'")]


def test_an_unknown_crs_refuses_the_feed(tmp_path):
    records = version_2(tiny_records())
    records[0]["crs"] = "EPSG:999999"
    assert refused(tmp_path, records) == [(1, "crs", "'EPSG:999999' is not in the EPSG database")]


@pytest.mark.parametrize(
    ("edit", "field", "reason"),
    [
        (
            {"location": {"x": 1e8, "y": 1e8}},
            "location",
            "must be a point on Earth in EPSG:4326, got x 1e+08, y 1e+08",
        ),
        (
            {"service_area": {"geojson": {"type": "LineString", "coordinates": SQUARE}}},
            "service_area.geojson",
            "must be a Polygon, got a LineString",
        ),
        (
            {"service_area": {"wkt": "POLYGON ((0 0, 1"}},
            "service_area.wkt",
            "must be a polygon, got 'POLYGON ((0 0, 1'",
        ),
        (
            {"service_area": {"radius_km": 5, "wkt": "POLYGON ((0 0, 1 0, 1 1, 0 0))"}},
            "service_area",
            "must be an object with exactly one of radius_km, polygon, geojson, wkt, got {",
        ),
    ],
    ids=["off the Earth", "a line", "broken WKT", "two areas"],
)
def test_bad_version_2_coordinates_are_named(tmp_path, edit, field, reason):
    records = version_2(tiny_records())
    records[LA_PEDS].update(edit)
    problems = refused(tmp_path, records)
    assert problems[0][:2] == (24, field)
    assert reason in problems[0][2]


def test_geojson_needs_version_2(tmp_path):
    records = tiny_records()
    records[LA_PEDS]["service_area"] = {"geojson": {"type": "Polygon", "coordinates": [SQUARE]}}
    line, field, reason = refused(tmp_path, records)[0]
    assert (line, field) == (24, "service_area.geojson")
    assert reason.startswith('needs format_version 2, got {"type": "Polygon"')
