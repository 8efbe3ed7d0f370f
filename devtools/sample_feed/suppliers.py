"""Who sample suppliers are: profiles (clinic, night clinic, nurse, remote), names and hours."""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from timezonefinder import TimezoneFinder

from devtools.sample_feed.places import Place, RequiredPlace, locate, offset

Record = dict[str, Any]
Profile = Literal["anchor", "clinic", "night_clinic", "nurse", "remote"]
ANTIMERIDIAN_BAND = 179.5
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
