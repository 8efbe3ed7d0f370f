"""Strict feeds through `matcher-feed validate`, text and --json: each rejection issue #8 (and
#11's record count) names, on a real feed file, with the field, the value and the rule.

The cases are written as an integrator would write them from docs/feeds.md: misspelt keys,
values outside the vocabularies, points outside their zones, swapped coordinates.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from matcher.cli import main
from matcher.feeds import load_feed

HEADER = {"record": "header", "format_version": 1, "generated_at": "2026-11-25T00:00:00Z"}
RULE = {"days": ["MON", "TUE"], "start": "09:00", "end": "12:00", "slot_minutes": 30}
BERLIN = {"lat": 52.52, "lng": 13.405}
#: Along 38.88° N the Spanish zone (UTC+1) meets the Portuguese one (UTC+0) at 7.033° W.
BORDER_LNG = -7.033


def supplier(supplier_id: str, **fields: Any) -> dict[str, Any]:
    """A Berlin clinic, with some fields replaced."""
    record = {
        "record": "supplier",
        "id": supplier_id,
        "name": f"Praxis {supplier_id}",
        "specialties": ["general_practice"],
        "languages": ["de", "en"],
        "modalities": ["IN_PERSON"],
        "timezone": "Europe/Berlin",
        "location": BERLIN,
    }
    return record | fields


def availability(supplier_id: str, **fields: Any) -> dict[str, Any]:
    """Two mornings a week, with some fields replaced or added."""
    return {"record": "availability", "supplier_id": supplier_id, "weekly": [RULE]} | fields


def jsonl(*records: dict[str, Any] | str, header: dict[str, Any] = HEADER) -> str:
    """A JSON Lines feed; a string is written as the raw line."""
    lines = [header, *records]
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in lines)


def good(supplier_id: str, **fields: Any) -> list[dict[str, Any]]:
    """A supplier and its availability, both valid unless ``fields`` says otherwise."""
    return [supplier(supplier_id, **fields), availability(supplier_id)]


def csv_row(supplier_id: str, zone: str, x: float, y: float) -> str:
    weekly = json.dumps([RULE]).replace('"', '""')
    fields = f"{supplier_id},Clinic {supplier_id},general_practice,en,IN_PERSON,{zone}"
    return f'{fields},{x},{y},"{weekly}"'


SWAPPED_CSV = "\n".join(
    [
        json.dumps({**HEADER, "format_version": 2}),
        "id,name,specialties,languages,modalities,timezone,x,y,weekly",
        # every x is a latitude and every y a longitude: Berlin lands in the Arabian Sea
        csv_row("berlin-mitte", "Europe/Berlin", 52.52, 13.405),
        csv_row("paris-marais", "Europe/Paris", 48.8566, 2.3522),
        csv_row("madrid-sol", "Europe/Madrid", 40.4168, -3.7038),
        "",
    ]
)
BODY = jsonl(*good("s1"), *good("s2"), *good("s3")).split("\n", 1)[1]

#: case -> (file name, content, every problem as (line, field, reason))
REFUSED: dict[str, tuple[str, str, list[tuple[int, str, str]]]] = {
    "misspelt optional keys": (
        "feed.jsonl",
        jsonl(
            *good("s1"),
            supplier("s2"),
            availability("s2", closd=["2026-12-25"], min_notice_minute=60),
        ),
        [
            (
                5,
                "closd",
                "must be one of the fields record, supplier_id, weekly, one_off, closed,"
                " min_notice_minutes, got 'closd': [\"2026-12-25\"]; did you mean 'closed'?",
            ),
            (
                5,
                "min_notice_minute",
                "must be one of the fields record, supplier_id, weekly, one_off, closed,"
                " min_notice_minutes, got 'min_notice_minute': 60;"
                " did you mean 'min_notice_minutes'?",
            ),
            (4, "id", "supplier 's2' is left out: its availability record (line 5) was rejected"),
        ],
    ),
    "a misspelt required key": (
        "feed.jsonl",
        jsonl(
            supplier("s1"),
            availability(
                "s1",
                weekly=[
                    {**{k: v for k, v in RULE.items() if k != "slot_minutes"}, "slot_minute": 30}
                ],
            ),
        ),
        [
            (2, "id", "supplier 's1' is left out: its availability record (line 3) was rejected"),
            (3, "weekly[0].slot_minutes", "is required (found 'slot_minute': misspelt?)"),
            (
                3,
                "weekly[0].slot_minute",
                "must be one of the fields days, start, end, slot_minutes,"
                " got 'slot_minute': 30; did you mean 'slot_minutes'?",
            ),
        ],
    ),
    "values outside the vocabularies": (
        "feed.jsonl",
        jsonl(*good("s1", specialties=["gp", "dermatolgy"], languages=["German", "EN"])),
        [
            (
                2,
                "specialties[1]",
                "must be a specialty from data/specialties.json (or a synonym),"
                " got 'dermatolgy'; did you mean 'dermatology'?",
            ),
            (
                2,
                "languages[0]",
                "must be an ISO 639-1 language code such as 'en', got 'German'; did you mean 'de'?",
            ),
            (
                3,
                "supplier_id",
                "names supplier 's1', whose record (line 2) was rejected: fix that line",
            ),
        ],
    ),
    "a point in another zone": (
        "feed.jsonl",
        jsonl(
            *good("s1"),
            *good("paris", timezone="America/New_York", location={"lat": 48.8566, "lng": 2.3522}),
        ),
        [
            (
                4,
                "location",
                "must lie in its timezone America/New_York or within 2 km of it,"
                " got lat 48.8566, lng 2.3522, which is in Europe/Paris",
            ),
            (
                5,
                "supplier_id",
                "names supplier 'paris', whose record (line 4) was rejected: fix that line",
            ),
        ],
    ),
    "a point 10 km across a border": (
        "feed.jsonl",
        jsonl(
            *good("s1"),
            *good(
                "badajoz",
                timezone="Europe/Madrid",
                location={"lat": 38.88, "lng": BORDER_LNG - 0.115},
            ),
        ),
        [
            (
                4,
                "location",
                "must lie in its timezone Europe/Madrid or within 2 km of it,"
                " got lat 38.8800, lng -7.1480, which is in Europe/Lisbon",
            ),
            (
                5,
                "supplier_id",
                "names supplier 'badajoz', whose record (line 4) was rejected: fix that line",
            ),
        ],
    ),
    "x and y swapped in a CSV": (
        "feed.csv",
        SWAPPED_CSV,
        [
            (
                0,
                "location",
                "3 of 3 suppliers lie outside their declared timezones (3 in the open sea);"
                " 3 would lie in their zones with lat and lng swapped: did you swap x and y"
                " (lat and lng), or declare the wrong crs?",
            ),
            (
                3,
                "location",
                "must lie in its timezone Europe/Berlin or within 2 km of it,"
                " got lat 13.4050, lng 52.5200, which is in the open sea (Etc/GMT-4)",
            ),
            (
                4,
                "location",
                "must lie in its timezone Europe/Paris or within 2 km of it,"
                " got lat 2.3522, lng 48.8566, which is in the open sea (Etc/GMT-3)",
            ),
            (
                5,
                "location",
                "must lie in its timezone Europe/Madrid or within 2 km of it,"
                " got lat -3.7038, lng 40.4168, which is in the open sea (Etc/GMT-3)",
            ),
        ],
    ),
    "a JSON syntax error": (
        "feed.jsonl",
        jsonl(*good("s1"), '{"record": "supplier", "id": "s2" "name": "Praxis"}'),
        [(4, "json", "is not valid JSON: unexpected character, expected ',' or '}' at column 35")],
    ),
    "a line that ends too soon": (
        "feed.jsonl",
        jsonl(*good("s1"), '{"record": "supplier", "id": "s2",'),
        [
            (
                4,
                "json",
                "is not valid JSON: unexpected end of data at the end of the line (column 35)",
            )
        ],
    ),
    "a misspelt record type": (
        "feed.jsonl",
        jsonl(*good("s1"), {**supplier("s2"), "record": "suplier"}),
        [
            (
                4,
                "record",
                "must be one of header, supplier, availability, got 'suplier';"
                " did you mean 'supplier'?",
            )
        ],
    ),
    "a home visit with no area": (
        "feed.jsonl",
        jsonl(*good("s1", modalities=["HOME_VISIT"])),
        [
            (2, "service_area", "is required when modalities include HOME_VISIT"),
            (
                3,
                "supplier_id",
                "names supplier 's1', whose record (line 2) was rejected: fix that line",
            ),
        ],
    ),
    "a version 2 field in version 1": (
        "feed.jsonl",
        jsonl(supplier("s1"), availability("s1", weekly=[{**RULE, "spots": 3}])),
        [
            (2, "id", "supplier 's1' is left out: its availability record (line 3) was rejected"),
            (3, "weekly[0].spots", "needs format_version 2, got 3"),
        ],
    ),
    "a truncated feed": (
        "feed.jsonl",
        jsonl(*good("s1"), *good("s2"), header={**HEADER, "records": 6}),
        [
            (
                1,
                "records",
                "must equal the records after the header (4), got 6: the file is truncated,"
                " or not the one its header was written for",
            )
        ],
    ),
    "a feed changed after its header": (
        "feed.jsonl",
        json.dumps({**HEADER, "sha256": hashlib.sha256(BODY.encode()).hexdigest()})
        + "\n"
        + BODY.replace("Praxis s2", "Praxis s9"),
        [
            (
                1,
                "sha256",
                "must equal the SHA-256 of the bytes after the header"
                f" ({hashlib.sha256(BODY.replace('Praxis s2', 'Praxis s9').encode()).hexdigest()}),"
                f" got {hashlib.sha256(BODY.encode()).hexdigest()}: the file changed after its"
                " header was written",
            )
        ],
    ),
}


@pytest.fixture(params=sorted(REFUSED))
def refused_feed(request, tmp_path) -> tuple[Path, list[tuple[int, str, str]]]:
    """A real feed file that must be refused, and every problem it must be refused for."""
    name, content, problems = REFUSED[request.param]
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path, problems


def test_a_refused_feed_names_every_problem_in_text(refused_feed, capsys):
    path, problems = refused_feed
    assert main(["validate", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{path}: refused"
    listed = [line for line in lines[1:] if line.startswith(f"{path}:")]
    assert sorted(listed) == sorted(
        f"{path}:{line}: {field}: {reason}" for line, field, reason in problems
    )


def test_a_refused_feed_names_every_problem_in_json(refused_feed, capsys):
    path, problems = refused_feed
    assert main(["validate", str(path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "refused"
    found = [(p["line"], p["field"], p["reason"]) for p in report["problems"]]
    assert sorted(found) == sorted(problems)
    assert all(p["path"] == str(path) for p in report["problems"])


@pytest.mark.parametrize(
    ("case", "records", "check"),
    [
        (
            "synonyms and any case",
            good("s1", specialties=["GP", "Skin care", "dermatology"], languages=["DE", "En"]),
            lambda s: (
                (s.specialties, s.languages) == (("general_practice", "dermatology"), ("de", "en"))
            ),
        ),
        (
            "a zone with the same rules as the point's",  # Oslo keeps Berlin's time
            good("oslo", location={"lat": 59.9139, "lng": 10.7522}),
            lambda s: s.timezone == "Europe/Berlin",
        ),
        (
            "a point 1 km across a border",
            good(
                "badajoz",
                timezone="Europe/Madrid",
                location={"lat": 38.88, "lng": BORDER_LNG - 0.012},
            ),
            lambda s: s.timezone == "Europe/Madrid",
        ),
        (
            "a whole number written as a float",
            [supplier("s1"), availability("s1", min_notice_minutes=60.0)],
            lambda s: s.availability.min_notice.total_seconds() == 3600,
        ),
    ],
)
def test_an_acceptable_feed_validates_and_loads_normalised(tmp_path, capsys, case, records, check):
    path = tmp_path / "feed.jsonl"
    path.write_text(jsonl(*records))
    assert main(["validate", str(path)]) == 0, capsys.readouterr().out
    assert main(["validate", str(path), "--json"]) == 0
    [loaded] = load_feed(path).suppliers
    assert check(loaded), loaded


def test_a_declared_count_and_digest_that_match_load(tmp_path):
    body = jsonl(*good("s1"), *good("s2")).split("\n", 1)[1] + "\n"  # a blank line counts too
    header = {**HEADER, "records": 4, "sha256": hashlib.sha256(body.encode()).hexdigest()}
    path = tmp_path / "feed.jsonl"
    path.write_text(json.dumps(header) + "\n" + body)
    assert len(load_feed(path).suppliers) == 2


def test_a_declared_count_is_per_csv_row_and_per_shard(tmp_path):
    """A CSV declares its rows; the swapped CSV, fixed and counted, loads."""
    fixed = SWAPPED_CSV.replace("52.52,13.405", "13.405,52.52")
    fixed = fixed.replace("48.8566,2.3522", "2.3522,48.8566").replace(
        "40.4168,-3.7038", "-3.7038,40.4168"
    )
    header, rest = fixed.split("\n", 1)
    path = tmp_path / "feed.csv"
    path.write_text(json.dumps({**json.loads(header), "records": 3}) + "\n" + rest)
    assert {s.id for s in load_feed(path).suppliers} == {
        "berlin-mitte",
        "paris-marais",
        "madrid-sol",
    }
