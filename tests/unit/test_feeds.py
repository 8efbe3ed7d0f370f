"""Supplier feeds: the tiny feed loads; every bad feed is refused naming file, line and field."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from matcher.errors import FeedError, FeedRejected
from matcher.feeds import Feed, load_feed
from matcher.model import Modality, Point
from tests.conftest import TINY_FEED

HEADER = {"record": "header", "format_version": 1, "generated_at": "2026-11-20T00:00:00Z"}


def supplier(**fields: Any) -> dict[str, Any]:
    """A valid supplier record, with some fields replaced."""
    record = {
        "record": "supplier",
        "id": "s1",
        "name": "Clinic",
        "specialties": ["general_practice"],
        "languages": ["en"],
        "modalities": ["IN_PERSON"],
        "timezone": "Europe/London",
        "location": {"lat": 51.5, "lng": -0.1},
    }
    return record | fields


def availability(**fields: Any) -> dict[str, Any]:
    """A valid availability record for supplier s1, with some fields replaced."""
    record = {
        "record": "availability",
        "supplier_id": "s1",
        "weekly": [{"days": ["MON"], "start": "09:00", "end": "12:00", "slot_minutes": 30}],
    }
    return record | fields


def weekly(**fields: Any) -> dict[str, Any]:
    return {"days": ["MON"], "start": "09:00", "end": "12:00", "slot_minutes": 30} | fields


def write(tmp_path: Path, *lines: dict[str, Any] | str) -> Path:
    """A feed file of these records; a string is written as the raw line."""
    path = tmp_path / "feed.jsonl"
    text = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    path.write_text("".join(f"{line}\n" for line in text), encoding="utf-8")
    return path


def rejected(path: Path) -> list[FeedError]:
    """The errors of a feed that must be refused; each names the file."""
    with pytest.raises(FeedRejected) as raised:
        load_feed(path)
    assert raised.value.path == str(path)
    assert raised.value.errors
    assert all(e.path == str(path) for e in raised.value.errors)
    return raised.value.errors


# The tiny feed


@pytest.fixture(scope="module")
def tiny() -> Feed:
    return load_feed(TINY_FEED)


def test_tiny_feed_loads_every_supplier_in_order(tiny: Feed) -> None:
    assert [s.id for s in tiny.suppliers] == [
        "beijing-clinic",
        "london-gp",
        "kathmandu-derm",
        "lord-howe-nurse",
        "ny-night",
        "apia-gp",
        "pago-gp",
        "lau-clinic",
        "fiji-nurse",
        "svalbard-gp",
        "auckland-psych",
        "la-peds",
    ]
    assert tiny.generated_at == datetime(2026, 11, 20, tzinfo=UTC)
    assert tiny.path == str(TINY_FEED)


def test_tiny_feed_supplier_fields(tiny: Feed) -> None:
    by_id = {s.id: s for s in tiny.suppliers}
    beijing = by_id["beijing-clinic"]
    assert beijing.timezone == "Asia/Shanghai"
    assert beijing.location == Point(lat=39.9219, lng=116.4436)
    assert beijing.modalities == frozenset({Modality.IN_PERSON, Modality.REMOTE})
    assert beijing.languages == ("zh", "en")
    assert by_id["london-gp"].availability.closed == frozenset({date(2026, 12, 25)})
    assert by_id["auckland-psych"].availability.min_notice == timedelta(minutes=120)
    assert [o.start for o in by_id["ny-night"].availability.one_off] == [
        datetime(2027, 3, 14, 2, 30),
        datetime(2027, 11, 7, 1, 30),
    ]


def test_tiny_feed_service_areas(tiny: Feed) -> None:
    by_id = {s.id: s for s in tiny.suppliers}
    fiji = by_id["fiji-nurse"].service_area
    assert fiji is not None and fiji.bounds == (179.0, -18.5, 181.5, -16.5)
    la = by_id["la-peds"].service_area  # a 15 km circle
    assert la is not None and la.is_valid
    assert by_id["london-gp"].service_area is None


# One problem per feed: (case, lines after the header, line, field, reason fragment)

BAD_FEEDS: list[tuple[str, list[dict[str, Any] | str], int, str, str]] = [
    ("bad JSON", ['{"record": "supplier",'], 2, "json", "is not valid JSON"),
    ("a line that is not an object", ["[1, 2, 3]"], 2, "json", "must be a JSON object"),
    ("unknown record type", [{"record": "clinic"}], 2, "record", "must be one of header"),
    ("specialties as a string", [supplier(specialties="nursing")], 2, "specialties", "list"),
    ("a specialty not a string", [supplier(specialties=[7])], 2, "specialties[0]", "string"),
    ("lat as a string", [supplier(location={"lat": "51.5", "lng": 0})], 2, "location.lat", "num"),
    ("a boolean lat", [supplier(location={"lat": True, "lng": 0})], 2, "location.lat", "got true"),
    ("lat 200", [supplier(location={"lat": 200, "lng": 0})], 2, "location.lat", "from -90 to 90"),
    (
        "lng -181",
        [supplier(location={"lat": 0, "lng": -181})],
        2,
        "location.lng",
        "from -180 to 180",
    ),
    ("no location", [supplier(location=None)], 2, "location", "must be an object"),
    ("empty id", [supplier(id=" ")], 2, "id", "empty"),
    ("unknown timezone", [supplier(timezone="US/Eastern Standard")], 2, "timezone", "IANA"),
    ("offset as timezone", [supplier(timezone="+05:45")], 2, "timezone", "IANA"),
    ("unknown modality", [supplier(modalities=["TELEPATHY"])], 2, "modalities[0]", "TELEPATHY"),
    ("no modality", [supplier(modalities=[])], 2, "modalities", "non-empty"),
    (
        "HOME_VISIT without service_area",
        [supplier(modalities=["HOME_VISIT"])],
        2,
        "service_area",
        "required",
    ),
    (
        "self-intersecting polygon",
        [
            supplier(
                modalities=["HOME_VISIT"],
                service_area={"polygon": [[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]},
            )
        ],
        2,
        "service_area.polygon",
        "Self-intersection",
    ),
    (
        "polygon of numbers",
        [supplier(modalities=["HOME_VISIT"], service_area={"polygon": [1, 2, 3, 4]})],
        2,
        "service_area.polygon[0]",
        "a pair of numbers [x, y], got 1 (and 3 more)",
    ),
    (
        "radius_km 0",
        [supplier(modalities=["HOME_VISIT"], service_area={"radius_km": 0})],
        2,
        "service_area.radius_km",
        "greater than 0",
    ),
    (
        "radius_km 500",
        [supplier(modalities=["HOME_VISIT"], service_area={"radius_km": 500})],
        2,
        "service_area.radius_km",
        "at most 200",
    ),
    (
        "availability for a missing supplier",
        [availability(supplier_id="nobody")],
        2,
        "supplier_id",
        "'nobody'",
    ),
    (
        "weekly end before start",
        [supplier(), availability(weekly=[weekly(start="12:00", end="09:00")])],
        3,
        "weekly[0].end",
        "after start",
    ),
    (
        "weekly 25:00",
        [supplier(), availability(weekly=[weekly(), weekly(start="25:00")])],
        3,
        "weekly[1].start",
        "25:00",
    ),
    (
        "weekly slot_minutes 3",
        [supplier(), availability(weekly=[weekly(slot_minutes=3)])],
        3,
        "weekly[0].slot_minutes",
        "from 5 to 240",
    ),
    (
        "weekly unknown day",
        [supplier(), availability(weekly=[weekly(days=["MONDAY"])])],
        3,
        "weekly[0].days[0]",
        "got 'MONDAY'; did you mean 'MON'?",
    ),
    (
        "one_off with an offset",
        [supplier(), availability(one_off=[{"start": "2027-03-14T02:30+01:00", "minutes": 30}])],
        3,
        "one_off[0].start",
        "no UTC offset",
    ),
    (
        "one_off not a time",
        [supplier(), availability(one_off=[{"start": "soon", "minutes": 30}])],
        3,
        "one_off[0].start",
        "'soon'",
    ),
    (
        "closed 2026-13-01",
        [supplier(), availability(closed=["2026-12-25", "2026-13-01"])],
        3,
        "closed[1]",
        "'2026-13-01'",
    ),
    (
        "negative min_notice_minutes",
        [supplier(), availability(min_notice_minutes=-5)],
        3,
        "min_notice_minutes",
        "from 0 to 527040",
    ),
]


@pytest.mark.parametrize(
    ("lines", "line", "field", "reason"),
    [case[1:] for case in BAD_FEEDS],
    ids=[case[0] for case in BAD_FEEDS],
)
def test_bad_record_is_refused_naming_file_line_and_field(
    tmp_path: Path, lines: list[dict[str, Any] | str], line: int, field: str, reason: str
) -> None:
    """The bad line is reported once, for its field (a supplier left without its availability
    line is reported too, on the supplier's line)."""
    on_line = [e for e in rejected(write(tmp_path, HEADER, *lines)) if e.line == line]
    assert [e.field for e in on_line] == [field]
    assert reason in on_line[0].reason


def test_nan_lat_is_refused(tmp_path: Path) -> None:
    """Python's json reads NaN and Infinity; JSON has neither, and a feed may not use them."""
    good = json.dumps(supplier())
    for bad in ("NaN", "Infinity", "-Infinity"):
        path = write(tmp_path, HEADER, good.replace('"lat": 51.5', f'"lat": {bad}'))
        (error,) = rejected(path)
        assert (error.line, error.field) == (2, "json")
        column = json.dumps(supplier()).index("51.5") + 1  # where the value starts
        assert error.reason.endswith((f"at column {column}", f"at column {column + 1}"))


def test_integer_too_large_for_a_float_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, json.dumps(supplier()).replace("51.5", "1" + "0" * 400))
    (error,) = rejected(path)
    assert (error.line, error.field) == (2, "json")
    assert "infinity" in error.reason


def test_integer_beyond_the_digit_limit_is_a_json_error(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, json.dumps(supplier()).replace("51.5", "1" + "0" * 5000))
    (error,) = rejected(path)
    assert (error.line, error.field) == (2, "json")


def test_line_that_is_not_utf8_is_refused_on_its_line(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    name = json.dumps(supplier(name="Caf\u00e9"), ensure_ascii=False).encode("latin-1")
    path.write_bytes(json.dumps(HEADER).encode() + b"\n" + name + b"\n")
    (error,) = rejected(path)
    assert (error.line, error.field) == (2, "json")
    assert "UTF-8" in error.reason


# The header


def test_missing_header_is_refused_on_line_1(tmp_path: Path) -> None:
    errors = rejected(write(tmp_path, supplier(), availability()))
    assert (errors[0].line, errors[0].field) == (1, "record")
    assert "header" in errors[0].reason


def test_header_after_line_1_is_refused(tmp_path: Path) -> None:
    errors = rejected(write(tmp_path, HEADER, supplier(), availability(), HEADER))
    assert [(e.line, e.field) for e in errors] == [(4, "record")]


@pytest.mark.parametrize("version", [0, 3, "1"])
def test_wrong_format_version_is_refused(tmp_path: Path, version: object) -> None:
    errors = rejected(write(tmp_path, HEADER | {"format_version": version}))
    assert [(e.line, e.field) for e in errors] == [(1, "format_version")]


@pytest.mark.parametrize(
    "generated_at", ["2026-11-20T00:00:00", "yesterday", None, "9999-12-31T23:00:00Z"]
)
def test_header_needs_an_instant_with_an_offset(tmp_path: Path, generated_at: object) -> None:
    errors = rejected(write(tmp_path, HEADER | {"generated_at": generated_at}))
    assert [(e.line, e.field) for e in errors] == [(1, "generated_at")]


# Suppliers and their availability


def test_duplicate_supplier_id_names_the_first_line(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, supplier(), availability(), supplier(name="Again"))
    errors = rejected(path)
    assert [(e.line, e.field) for e in errors] == [(4, "id")]
    assert "first on line 2" in errors[0].reason


def test_second_availability_for_a_supplier_is_refused(tmp_path: Path) -> None:
    errors = rejected(write(tmp_path, HEADER, supplier(), availability(), availability()))
    assert [(e.line, e.field) for e in errors] == [(4, "supplier_id")]
    assert "must name a supplier once, got 's1' again (its availability is on line 3)" in (
        errors[0].reason
    )


def test_supplier_without_availability_is_refused_on_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, supplier(), supplier(id="s2"), availability(supplier_id="s2"))
    errors = rejected(path)
    assert [(e.line, e.field) for e in errors] == [(2, "id")]
    assert errors[0].reason == "must have an availability record, none names 's1'"


def test_availability_before_its_supplier_is_refused(tmp_path: Path) -> None:
    errors = rejected(write(tmp_path, HEADER, availability(), supplier()))
    assert [(e.line, e.field) for e in errors[:1]] == [(2, "supplier_id")]


def test_valid_minimal_feed_loads(tmp_path: Path) -> None:
    """The helpers' records are valid on their own, so each bad case has exactly one fault."""
    feed = load_feed(write(tmp_path, HEADER, supplier(), availability()))
    assert [s.id for s in feed.suppliers] == ["s1"]


def test_blank_lines_are_ignored_but_counted(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, "", supplier(), "   ", supplier(id=" "))
    assert [(e.line, e.field) for e in rejected(path)] == [(3, "id"), (5, "id")]


# Whole files


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_text("")
    errors = rejected(path)
    assert [(e.line, e.field) for e in errors] == [(1, "record")]
    assert "empty" in errors[0].reason


def test_file_of_blank_lines_is_refused_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_text("\n   \n\n")
    assert [(e.line, e.field) for e in rejected(path)] == [(1, "record")]


def test_missing_file_is_refused(tmp_path: Path) -> None:
    errors = rejected(tmp_path / "absent.jsonl")
    assert [(e.line, e.field) for e in errors] == [(0, "file")]


def test_every_problem_in_a_file_is_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER,
        supplier(),
        availability(weekly=[weekly(end="08:00")]),
        supplier(id="s2", timezone="Mars/Olympus"),
        "not json",
        supplier(id="s3"),
        availability(supplier_id="s3", closed=["someday"]),
        supplier(id="s4"),
        availability(supplier_id="s4"),
    )
    errors = rejected(path)
    assert [(e.line, e.field) for e in errors] == [
        (2, "id"),  # s1 is left without availability
        (3, "weekly[0].end"),
        (4, "timezone"),
        (5, "json"),
        (6, "id"),  # so is s3
        (7, "closed[0]"),
    ]


def test_refusal_message_lists_each_problem_as_path_line_field_reason(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, supplier(timezone="Mars/Olympus"))
    with pytest.raises(FeedRejected) as raised:
        load_feed(path)
    assert (
        f"{path}:2: timezone: must be an IANA time zone id such as 'Asia/Kathmandu',"
        " got 'Mars/Olympus'" in str(raised.value)
    )
