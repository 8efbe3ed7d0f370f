"""CSV feeds: one supplier per row, checked like JSON Lines and reported by column."""

from __future__ import annotations

import csv
import gzip
import io
import json

import pytest

from matcher.errors import FeedRejected
from matcher.feeds import load_feed
from tests.conftest import TINY_FEED
from tests.feed_files import tiny_records

COLUMNS = [
    "id",
    "name",
    "specialties",
    "languages",
    "modalities",
    "timezone",
    "x",
    "y",
    "service_area",
    "weekly",
    "one_off",
    "closed",
    "min_notice_minutes",
]


def area_cell(area) -> str:
    """A service area as its CSV cell: a radius, or a ring as WKT."""
    if "radius_km" in area:
        return str(area["radius_km"])
    if "polygon" in area:
        return f"POLYGON (({', '.join(f'{x!r} {y!r}' for x, y in area['polygon'])}))"
    return ""


def row(supplier, availability) -> list[str]:
    """One supplier of the tiny feed as a CSV row of format version 2 (x, y in WGS84)."""
    return [
        supplier["id"],
        supplier["name"],
        ";".join(supplier["specialties"]),
        ";".join(supplier.get("languages", [])),
        ";".join(supplier["modalities"]),
        supplier["timezone"],
        repr(supplier["location"]["lng"]),
        repr(supplier["location"]["lat"]),
        area_cell(supplier.get("service_area", {})),
        json.dumps(availability.get("weekly", [])),
        json.dumps(availability.get("one_off", [])),
        ";".join(availability.get("closed", [])),
        str(availability.get("min_notice_minutes", "")),
    ]


def tiny_csv(*, edit=None) -> str:
    """The tiny feed as CSV; ``edit`` may change the rows (lists of cells) first."""
    records = tiny_records()
    header = {**records[0], "format_version": 2}
    rows = [row(s, a) for s, a in zip(records[1::2], records[2::2], strict=True)]
    if edit:
        edit(rows)
    out = io.StringIO()
    out.write(json.dumps(header) + "\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return out.getvalue()


def test_a_csv_feed_loads_the_same_suppliers_as_its_json_lines_twin(tmp_path):
    path = tmp_path / "feed.csv"
    path.write_text(tiny_csv())
    from_csv = load_feed(path)
    from_jsonl = load_feed(TINY_FEED)
    assert (from_csv.records, from_csv.format_version) == (12, 2)
    for a, b in zip(from_csv.suppliers, from_jsonl.suppliers, strict=True):
        assert (a.id, a.name, a.specialties, a.languages, a.modalities, a.timezone) == (
            b.id,
            b.name,
            b.specialties,
            b.languages,
            b.modalities,
            b.timezone,
        )
        assert (a.location, a.availability) == (b.location, b.availability)
        assert (a.service_area is None) == (b.service_area is None)
        if a.service_area is not None and b.service_area is not None:
            assert a.service_area.equals(b.service_area)


def test_a_gzipped_csv_feed_loads(tmp_path):
    path = tmp_path / "feed.csv.gz"
    path.write_bytes(gzip.compress(tiny_csv().encode()))
    assert len(load_feed(path).suppliers) == 12


def set_cell(column: str, value: str):
    """An edit putting ``value`` in the first row's ``column``."""
    return lambda rows: rows[0].__setitem__(COLUMNS.index(column), value)


@pytest.mark.parametrize(
    ("edit", "field", "reason"),
    [
        (set_cell("timezone", "Asia/Peking"), "timezone", "got 'Asia/Peking'; did you mean"),
        (
            set_cell("y", "north"),
            "location.y",
            "must be a number from -1e9 to 1e9 in the header's crs, got 'north'",
        ),
        (
            set_cell("weekly", "[{"),
            "weekly",
            "is not valid JSON: unexpected end of data at column 3",
        ),
        (
            set_cell(
                "weekly", '[{"days":["MON"],"start":"10:00","end":"09:00","slot_minutes":30}]'
            ),
            "weekly[0].end",
            "must be after start",
        ),
        (
            set_cell("closed", "2026-12-25;Christmas"),
            "closed[1]",
            "must be a local date YYYY-MM-DD, got 'Christmas'",
        ),
        (lambda rows: rows[0].pop(), "row", "has 12 cells for 13 columns"),
    ],
    ids=[
        "unknown zone",
        "text for a number",
        "broken JSON",
        "end before start",
        "bad date",
        "short row",
    ],
)
def test_a_bad_cell_is_reported_by_row_and_column(tmp_path, edit, field, reason):
    path = tmp_path / "feed.csv"
    path.write_text(tiny_csv(edit=edit))
    with pytest.raises(FeedRejected) as caught:
        load_feed(path)
    first = caught.value.errors[0]
    assert (first.line, first.field) == (3, field)
    assert reason in first.reason


def test_an_unknown_column_refuses_the_feed(tmp_path):
    path = tmp_path / "feed.csv"
    path.write_text(tiny_csv().replace("min_notice_minutes", "notice", 1))
    with pytest.raises(FeedRejected) as caught:
        load_feed(path, max_rejected_share=1.0)
    [problem] = caught.value.errors
    assert (problem.line, problem.field) == (2, "columns")
    assert problem.reason.startswith("unknown column(s) notice;")


def test_a_misspelt_column_is_named_with_the_one_probably_meant(tmp_path):
    path = tmp_path / "feed.csv"
    path.write_text(tiny_csv().replace("specialties", "specialty", 1))
    with pytest.raises(FeedRejected) as caught:
        load_feed(path)
    [problem] = caught.value.errors
    assert problem.reason.endswith("; specialty: did you mean 'specialties'?")
