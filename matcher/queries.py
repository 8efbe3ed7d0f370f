"""Turns a caller's raw request values into validated domain values, naming any bad field.

Field names are the API's (``location.point.lat``, ``window.end``): this is the one layer that
knows how a request is spelled, so every InvalidArgument is raised here or named from here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from matcher import vocabulary as vocabulary_of
from matcher.errors import (
    FieldViolation,
    GeoipNotConfigured,
    InvalidArgument,
    MalformedAddress,
    NotPublicAddress,
    Reason,
)
from matcher.geo.geoip import GeoipResolver, IpCity, IpCountry, IpLocation, public_address
from matcher.geo.geometry import coarsen, decode_geohash, point
from matcher.geo.timezones import TimezoneResolver, country_zone, zone_or_invalid
from matcher.instants import SUPPORTED_RULE, supported
from matcher.model import (
    HHMM_RULE,
    SLOT_MINUTES,
    SLOT_MINUTES_RULE,
    CountryZone,
    IpPlacement,
    LocalHours,
    Modality,
    Override,
    Slot,
    Update,
    UserLocation,
    Window,
    minute_of_day,
)
from matcher.serving.sources import is_url
from matcher.settings import Limits, how_to_set
from matcher.vocabulary import UnknownTerm, Vocabulary


@dataclass(frozen=True, kw_only=True)
class LocationInput:
    """Where the caller says the user is: at most one of a point, a geohash, a country or an IP.

    The IP address is left out of the repr, so no log line or error that shows an input shows it.
    """

    lat_lng: tuple[float, float] | None = None
    geohash: str | None = None
    country_code: str | None = None
    ip_address: str | None = field(default=None, repr=False)


@dataclass(frozen=True, kw_only=True)
class WindowInput:
    """A window as requested: either end may be left unset."""

    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class HoursInput:
    """User-local hours as requested, two "HH:MM" strings."""

    start: str
    end: str


@dataclass(frozen=True, kw_only=True)
class SlotInput:
    """A slot a real-time update offers, as requested."""

    start: datetime | None
    minutes: int


def locate(
    location: LocationInput,
    *,
    resolver: TimezoneResolver,
    limits: Limits,
    field: str,
    geoip: GeoipResolver | None = None,
    radius_km: float | None = None,
) -> UserLocation:
    """Resolves exactly one form of location, coarsened before anything else sees it.

    ``radius_km`` is the search radius an IP address's accuracy is weighed against (unset: the
    default radius); ``geoip`` places IP addresses, if the server has a database.
    """
    if location.lat_lng is not None:
        lat, lng = location.lat_lng
        raw = point(lat=lat, lng=lng, field=f"{field}.point")
    elif location.geohash is not None:
        raw = decode_geohash(location.geohash, field=f"{field}.geohash")
    elif location.country_code is not None:
        country = country_zone(
            location.country_code,
            min_share=limits.country_min_population_share,
            field=f"{field}.country_code",
        )
        return UserLocation(point=None, zone=country.zone, country=country)
    elif location.ip_address is not None:
        return ip_located(
            location.ip_address,
            geoip=geoip,
            resolver=resolver,
            limits=limits,
            radius_km=radius_km or limits.default_radius_km,
            field=f"{field}.ip_address",
        )
    else:
        raise missing(field=field, what="a point, a geohash, a country_code or an ip_address")
    coarse = coarsen(raw, cell_km=limits.cell_km)
    return UserLocation(point=coarse, zone=resolver.zone_at(coarse))


def ip_located(
    address: str,
    *,
    geoip: GeoipResolver | None,
    resolver: TimezoneResolver,
    limits: Limits,
    radius_km: float,
    field: str,
) -> UserLocation:
    """The place a GeoIP database gives a public address, coarse at once; the address is dropped.

    A city point is snapped to the grid before anything else sees it. When its accuracy is
    coarser than ``radius_km``, or the database knows only the country, the user acts as a
    country does (no point): the zone is the country's, by the country_code rule; where that
    rule gives none but the database gave a point, the zone at the coarse point (the response
    says so); with neither, INVALID_ARGUMENT asks for a finer location.
    """
    place = _placed(address, geoip=geoip, field=field)
    coarse = None if isinstance(place, IpCountry) else coarsen(place.point, cell_km=limits.cell_km)
    accuracy = place.accuracy_km if isinstance(place, IpCity) else None
    placed = IpPlacement(accuracy_km=accuracy, country_code=place.country_code)
    if coarse is not None and accuracy is not None and accuracy <= radius_km:
        return UserLocation(point=coarse, zone=resolver.zone_at(coarse), ip=placed)
    code = place.country_code
    country = None if code is None else _country(code, limits=limits)
    if country is not None:
        return UserLocation(point=None, zone=country.zone, country=country, ip=placed)
    if coarse is not None:
        return UserLocation(point=None, zone=resolver.zone_at(coarse), ip=placed)
    raise InvalidArgument.of(
        field,
        f"locates the user only to the country {code}, which has no one legal time; "
        "send a point or a geohash",
        reason=Reason.LOCATION_TOO_COARSE,
        metadata={"country_code": str(code)},
    )


def _placed(address: str, *, geoip: GeoipResolver | None, field: str) -> IpLocation:
    """The database's place for an address; a bad one is refused first, database or not."""
    try:
        if geoip is None:
            public_address(address=address)
            raise GeoipNotConfigured(how=how_to_set("geoip_db"))
        return geoip.locate(address=address)
    except MalformedAddress as exc:
        raise InvalidArgument.of(field, exc.reason) from None
    except NotPublicAddress as exc:
        raise InvalidArgument.of(field, str(exc), reason=Reason.IP_ADDRESS_NOT_PUBLIC) from None


def _country(code: str, *, limits: Limits) -> CountryZone | None:
    """The zone the country_code rule gives a country, or None where it gives none."""
    try:
        return country_zone(
            code, min_share=limits.country_min_population_share, field="country_code"
        )
    except InvalidArgument:
        return None


def timezone(name: str, *, field: str) -> str:
    """An IANA zone id the caller named."""
    zone_or_invalid(name, field=field)
    return name


def radius(value: float, *, limits: Limits, field: str) -> float:
    """A search radius: 0 means the default; otherwise positive and bounded."""
    if not math.isfinite(value) or value < 0:
        raise InvalidArgument.of(field, "must be a finite, non-negative number of kilometres")
    if value > limits.max_radius_km:
        raise InvalidArgument.of(field, f"must be at most {limits.max_radius_km:g} km")
    return value or limits.default_radius_km


def window(requested: WindowInput, *, now: datetime, limits: Limits, field: str) -> Window:
    """A half-open window: unset parts default to now and the default length; bounded in length."""
    begin = instant(requested.start or now, field=f"{field}.start")
    finish = instant(requested.end or begin + limits.default_window, field=f"{field}.end")
    return bounded(begin, finish, limits=limits, field=field)


def bounded(start: datetime, end: datetime, *, limits: Limits, field: str) -> Window:
    """A window whose end follows its start by at most the longest window."""
    if end <= start:
        raise InvalidArgument.of(f"{field}.end", f"must be after {field}.start")
    if end - start > limits.max_window:
        raise InvalidArgument.of(field, f"must span at most {limits.max_window_days} days")
    return Window(start=start, end=end)


def instant(value: datetime, *, field: str) -> datetime:
    """An instant in the years slots can be computed for."""
    if not supported(value):
        raise InvalidArgument.of(field, SUPPORTED_RULE)
    return value


def count(value: int, *, default: int, most: int, field: str) -> int:
    """A slot count: 0 means the default; otherwise within [1, most]."""
    if value < 0 or value > most:
        raise InvalidArgument.of(field, f"must be between 0 (the default, {default}) and {most}")
    return value or default


def clamped(value: int, *, default: int, most: int, field: str) -> int:
    """A page size as AIP-158 reads it: 0 means the default, above the maximum the maximum."""
    if value < 0:
        raise InvalidArgument.of(field, f"must not be negative (0 means the default, {default})")
    return min(value or default, most)


def page_size(value: int, *, limits: Limits, field: str) -> int:
    """Matches per page."""
    return clamped(value, default=limits.default_page_size, most=limits.max_page_size, field=field)


def slots_per_supplier(value: int, *, limits: Limits, field: str) -> int:
    """Slots shown with each matched supplier."""
    return count(value, default=limits.default_slots, most=limits.max_slots, field=field)


def listed_slots(value: int, *, limits: Limits, field: str) -> int:
    """Slots per ListSlots page."""
    return clamped(
        value, default=limits.default_listed_slots, most=limits.max_listed_slots, field=field
    )


def local_hours(hours: HoursInput | None, *, field: str) -> LocalHours | None:
    """User-local hours from two "HH:MM" strings, or None for any hour."""
    if hours is None:
        return None
    minutes = [
        _minute(text, field=f"{field}.{name}")
        for name, text in (("start", hours.start), ("end", hours.end))
    ]
    if minutes[0] == minutes[1]:
        raise InvalidArgument.of(f"{field}.end", "must differ from start")
    admitted = LocalHours(start_minute=minutes[0], end_minute=minutes[1])
    if not admitted.length:  # "24:00" to "00:00": a search for nothing that would read everything
        raise InvalidArgument.of(field, "admit no minute of the day; 24:00 to 00:00 is empty")
    return admitted


def _minute(text: str, *, field: str) -> int:
    """Minutes after midnight of "HH:MM"."""
    minute = minute_of_day(text)
    if minute is None:
        raise InvalidArgument.of(field, f"{HHMM_RULE}, got {text!r}")
    return minute


def filters(
    *, specialties: Sequence[str], languages: Sequence[str]
) -> tuple[frozenset[str], frozenset[str]]:
    """Specialty and language filters as the catalogue stores them, whatever their case or
    synonym.

    Any unknown value is INVALID_ARGUMENT naming each one with the closest known values, rather
    than a filter that silently matches nothing.
    """
    unknown: list[FieldViolation] = []
    found = tuple(
        _terms(values, vocabulary=vocabulary, noun=noun, field=field, unknown=unknown)
        for values, vocabulary, noun, field in (
            (specialties, vocabulary_of.specialties(), "specialty", "specialties"),
            (languages, vocabulary_of.languages(), "language code", "languages"),
        )
    )
    if unknown:
        raise InvalidArgument(*unknown)
    return found[0], found[1]


def _terms(
    values: Sequence[str],
    *,
    vocabulary: Vocabulary,
    noun: str,
    field: str,
    unknown: list[FieldViolation],
) -> frozenset[str]:
    """The canonical values of one filter; each unknown one is added to ``unknown``."""
    found: set[str] = set()
    for k, value in enumerate(values):
        try:
            found.add(vocabulary.canonical(value))
        except UnknownTerm as exc:
            rule = f"must be a known {noun} (ListFilterValues lists those served)"
            unknown.append(FieldViolation(f"{field}[{k}]", exc.describe(rule)))
    return frozenset(found)


def reachable(user: UserLocation, modalities: frozenset[Modality], *, field: str) -> None:
    """A country, or an IP address placed as coarsely, locates only remote care."""
    if user.point is not None or Modality.REMOTE in modalities:
        return
    accuracy = None if user.ip is None else user.ip.accuracy_km
    if user.ip is None:
        why = "a country locates"
    elif accuracy is None:
        why = "an IP address placed only in a country locates"
    else:
        why = f"an IP address placed only within {accuracy:g} km, more than the radius, locates"
    raise InvalidArgument.of(
        field,
        f"{why} only REMOTE care; send a point or a geohash",
        reason=Reason.LOCATION_TOO_COARSE,
    )


def missing(*, field: str, what: str) -> InvalidArgument:
    """The error for a choice the caller left unmade."""
    return InvalidArgument.of(field, f"is required: {what}", reason=Reason.FIELD_REQUIRED)


def slot_ids(ids: Sequence[str], *, most: int, field: str) -> None:
    """Slot ids to re-check: at least one, at most ``most``."""
    if not ids:
        raise InvalidArgument.of(field, "must hold at least one slot id")
    if len(ids) > most:
        raise InvalidArgument.of(field, f"must hold at most {most} slot ids")


def required(value: str, *, field: str) -> str:
    """A string the caller must send."""
    if not value:
        raise InvalidArgument.of(field, "is required", reason=Reason.FIELD_REQUIRED)
    return value


def update(
    *,
    update_id: str,
    supplier_id: str,
    requested: WindowInput,
    slots: Sequence[SlotInput],
    received_at: datetime,
    limits: Limits,
) -> Update:
    """A checked real-time update; InvalidArgument names the first bad field."""
    if not update_id.strip() or len(update_id) > limits.max_update_id_length:
        raise InvalidArgument.of(
            "update_id", f"must be 1 to {limits.max_update_id_length} characters"
        )
    required(supplier_id, field="supplier_id")
    if requested.start is None or requested.end is None:
        raise InvalidArgument.of("window", "needs a start and an end", reason=Reason.FIELD_REQUIRED)
    span = bounded(
        instant(requested.start, field="window.start"),
        instant(requested.end, field="window.end"),
        limits=limits,
        field="window",
    )
    found = []
    for k, slot in enumerate(slots):
        if slot.start is None or slot.start not in span:
            raise InvalidArgument.of(f"slots[{k}].start", "must be inside the window")
        if slot.minutes not in SLOT_MINUTES:
            raise InvalidArgument.of(f"slots[{k}].minutes", SLOT_MINUTES_RULE)
        found.append(Slot(start=slot.start, end=slot.start + timedelta(minutes=slot.minutes)))
    return Update(
        update_id=update_id,
        supplier_id=supplier_id,
        override=Override(window=span, slots=tuple(sorted(set(found)))),
        received_at=received_at,
    )


def feed_source(text: str, *, field: str) -> str:
    """A feed to reload: "" (the configured one), a path, or an http(s) URL; no other scheme."""
    scheme, sep, _ = text.partition("://")
    if sep and not is_url(text):
        raise InvalidArgument.of(field, f"must be a path or an http(s) URL, not {scheme}://")
    if "\x00" in text:
        raise InvalidArgument.of(field, "must not hold a NUL character")
    return text


def note(text: str, *, limits: Limits, field: str) -> str:
    """A short free-text note kept with a record (who asked for a reload)."""
    if len(text) > limits.max_note_length or not text.isprintable():
        raise InvalidArgument.of(
            field, f"must be at most {limits.max_note_length} printable characters"
        )
    return text.strip()
