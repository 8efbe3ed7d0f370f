"""What the sample feed promises the tests: enough suppliers, zones and places covered."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from devtools.sample_feed.places import FIJI_ZONE, REQUIRED, REQUIRED_ZONES
from devtools.sample_feed.suppliers import WEEKDAYS, Record

MIN_SUPPLIERS = 2000
MIN_ZONES = 40
MIN_PER_REQUIRED_ZONE = 3
ANCHOR_RADIUS_KM = 25.0
MIN_ANCHORS = 5
SVALBARD_MIN_LAT = 78.0


def distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Return the great-circle distance between two points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def covers_office_hours(availability: Record) -> bool:
    """Tell whether some weekly rule spans 08:00-18:00 on every weekday."""
    return any(
        set(WEEKDAYS) <= set(r["days"]) and r["start"] <= "08:00" and r["end"] >= "18:00"
        for r in availability["weekly"]
    )


def coverage_problems(records: list[Record]) -> list[str]:
    """Return every unmet coverage requirement (empty when the feed is good)."""
    pairs = list(zip(records[1::2], records[2::2], strict=True))
    suppliers = [s for s, _ in pairs]
    zones = Counter(s["timezone"] for s in suppliers)
    problems = []
    if len(suppliers) < MIN_SUPPLIERS:
        problems.append(f"{len(suppliers)} suppliers, need {MIN_SUPPLIERS}")
    if len(zones) < MIN_ZONES:
        problems.append(f"{len(zones)} zones, need {MIN_ZONES}")
    for zone in REQUIRED_ZONES:
        modes = {m for s in suppliers if s["timezone"] == zone for m in s["modalities"]}
        if zones[zone] < MIN_PER_REQUIRED_ZONE or not {"IN_PERSON", "REMOTE"} <= modes:
            problems.append(f"{zone}: {zones[zone]} suppliers, modalities {sorted(modes)}")
    fiji_sides = {s["location"]["lng"] > 0 for s in suppliers if s["timezone"] == FIJI_ZONE}
    if fiji_sides != {True, False}:
        problems.append(f"{FIJI_ZONE} is not covered on both sides of 180°")
    arctic = [s for s in suppliers if s["location"]["lat"] > SVALBARD_MIN_LAT]
    if len(arctic) < 3:
        problems.append(f"only {len(arctic)} suppliers above latitude {SVALBARD_MIN_LAT}")
    for rp in (rp for rp in REQUIRED if rp.anchors):
        near = [
            s
            for s, a in pairs
            if covers_office_hours(a)
            and distance_km(rp.place.lat, rp.place.lng, s["location"]["lat"], s["location"]["lng"])
            <= ANCHOR_RADIUS_KM
        ]
        if len(near) < MIN_ANCHORS:
            problems.append(f"{rp.place.name}: {len(near)} office-hours suppliers nearby")
    return problems


def summarize(path: Path, records: list[Record]) -> str:
    """Return a short report: size, supplier and zone counts, and each required zone's count."""
    zones = Counter(r["timezone"] for r in records if r["record"] == "supplier")
    lines = [
        f"wrote {path} ({path.stat().st_size:,} bytes): "
        f"{sum(zones.values())} suppliers in {len(zones)} zones"
    ]
    lines += [f"  {zone:<22} {zones[zone]}" for zone in REQUIRED_ZONES]
    return "\n".join(lines)
