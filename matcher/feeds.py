"""Supplier feeds (JSON Lines, docs/feeds.md): parsed and checked record by record.

Every problem is reported as file, line, field and reason; a feed with any problem is
refused whole, so a bad file never half-replaces a good catalogue.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from shapely.geometry import Polygon
from shapely.validation import explain_validity

from matcher.catalog import Modality, Supplier
from matcher.errors import FeedError
from matcher.geometry import Point, circle
from matcher.slots import Availability, OneOff, WeeklyRule, minute_of_day
from matcher.timezones import known_zones

FORMAT_VERSION = 1
DAYS = {"MON": 0, "TUE": 1, "WED": 2, "THU": 3, "FRI": 4, "SAT": 5, "SUN": 6}
MAX_AREA_RADIUS_KM = 200.0
MAX_NOTICE_MINUTES = 366 * 24 * 60


@dataclass(frozen=True)
class Feed:
    """A loaded feed: its suppliers and when the supplier side generated it."""

    suppliers: tuple[Supplier, ...]
    generated_at: datetime
    path: str


class FeedRejected(Exception):
    """A feed with problems; ``errors`` names every bad record."""

    def __init__(self, path: str, errors: list[FeedError]) -> None:
        self.path = path
        self.errors = errors
        shown = "\n".join(f"  {e}" for e in errors[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"feed {path} refused: {len(errors)} problem(s)\n{shown}{more}")


@dataclass
class Record:
    """One JSON object of a feed, with helpers that name the field and line of any problem."""

    data: dict[str, Any]
    path: str
    line: int
    prefix: str = ""

    def fail(self, name: str, reason: str) -> FeedError:
        """An error located at this record's field."""
        return FeedError(path=self.path, line=self.line, field=self.prefix + name, reason=reason)

    def get(self, name: str, kind: type | tuple[type, ...], *, required: bool = True) -> Any:
        """A field of a given JSON type; booleans never pass for numbers."""
        if name not in self.data or self.data[name] is None:
            if required:
                raise self.fail(name, "is required")
            return None
        value = self.data[name]
        if isinstance(value, bool) and bool not in _as_tuple(kind):
            raise self.fail(name, f"must be {_kind_name(kind)}, not a boolean")
        if not isinstance(value, kind):
            raise self.fail(name, f"must be {_kind_name(kind)}, not {type(value).__name__}")
        return value

    def text(self, name: str) -> str:
        """A non-empty string field."""
        value: str = self.get(name, str)
        if not value.strip():
            raise self.fail(name, "must not be empty")
        return value

    def number(self, name: str, *, low: float, high: float) -> float:
        """A finite number within [low, high]."""
        raw = self.get(name, (int, float))
        try:
            value = float(raw)
        except OverflowError:  # an integer literal too large for a float
            value = math.inf if raw > 0 else -math.inf
        if not math.isfinite(value) or not low <= value <= high:
            raise self.fail(name, f"must be a finite number in [{low:g}, {high:g}], got {value!r}")
        return value

    def strings(self, name: str, *, required: bool = True) -> tuple[str, ...]:
        """A list of non-empty strings."""
        values = self.get(name, list, required=required) or []
        for k, value in enumerate(values):
            if not isinstance(value, str) or not value.strip():
                raise self.fail(f"{name}[{k}]", "must be a non-empty string")
        return tuple(values)

    def nested(self, name: str, *, required: bool = True) -> Record | None:
        """A nested object as a Record whose field names carry this one as a prefix."""
        value = self.get(name, dict, required=required)
        if value is None:
            return None
        return Record(value, self.path, self.line, f"{self.prefix}{name}.")

    def items(self, name: str) -> Iterator[Record]:
        """The objects of a list field, each as a Record."""
        for k, value in enumerate(self.get(name, list, required=False) or []):
            if not isinstance(value, dict):
                raise self.fail(f"{name}[{k}]", "must be an object")
            yield Record(value, self.path, self.line, f"{self.prefix}{name}[{k}].")


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "a number", float: "a number", list: "a list", dict: "an object"}
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in _as_tuple(kind)))


@dataclass
class _Draft:
    """A supplier line read, waiting for its availability line."""

    record: Record
    fields: dict[str, Any] = field(default_factory=dict)
    availability: Availability | None = None


def load_feed(path: Path) -> Feed:
    """Reads and checks a whole feed; raises FeedRejected naming every bad record."""
    errors: list[FeedError] = []
    drafts: dict[str, _Draft] = {}
    generated_at: datetime | None = None
    name = str(path)
    for record in _records(path, errors):
        try:
            kind = record.text("record")
            if record.line == 1 and kind != "header":
                raise record.fail("record", "the first line must be the header record")
            if kind == "header":
                generated_at = _header(record)
            elif kind == "supplier":
                _add_supplier(record, drafts)
            elif kind == "availability":
                _add_availability(record, drafts)
            else:
                raise record.fail("record", f"unknown record type {kind!r}")
        except FeedError as exc:
            errors.append(exc)
    for supplier_id, draft in drafts.items():
        if draft.availability is None:
            errors.append(
                draft.record.fail("id", f"supplier {supplier_id!r} has no availability record")
            )
    if generated_at is None and not errors:
        errors.append(FeedError(path=name, line=1, field="record", reason="the feed is empty"))
    if errors:
        raise FeedRejected(name, sorted(errors, key=lambda e: e.line))
    assert generated_at is not None
    suppliers = tuple(
        Supplier(**d.fields, availability=d.availability)
        for d in drafts.values()
        if d.availability is not None
    )
    return Feed(suppliers=suppliers, generated_at=generated_at, path=name)


def _records(path: Path, errors: list[FeedError]) -> Iterator[Record]:
    """Each non-blank line as a Record; unreadable lines become errors."""
    name = str(path)
    try:
        # surrogateescape keeps a bad byte to report on its own line instead of failing the file;
        # lines end at \n only, so a stray \r cannot shift the line numbers grep -n would show
        handle = path.open(encoding="utf-8", errors="surrogateescape", newline="\n")
    except OSError as exc:
        raise FeedRejected(
            name, [FeedError(path=name, line=0, field="file", reason=exc.strerror or str(exc))]
        ) from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                line.encode("utf-8")
            except UnicodeEncodeError:
                errors.append(
                    FeedError(path=name, line=number, field="json", reason="is not valid UTF-8")
                )
                continue
            try:
                data = json.loads(line)
            except ValueError as exc:  # also an integer literal beyond Python's digit limit
                reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                errors.append(FeedError(path=name, line=number, field="json", reason=reason))
                continue
            if not isinstance(data, dict):
                errors.append(
                    FeedError(
                        path=name, line=number, field="json", reason="a record must be an object"
                    )
                )
                continue
            yield Record(data, name, number)


def _header(record: Record) -> datetime:
    """The header's format version and generation time."""
    if record.line != 1:
        raise record.fail("record", "the header must be the first line")
    version = record.get("format_version", int)
    if version != FORMAT_VERSION:
        raise record.fail("format_version", f"must be {FORMAT_VERSION}, got {version}")
    return _instant(record, "generated_at")


def _instant(record: Record, name: str) -> datetime:
    """An RFC 3339 instant with an offset."""
    text = record.text(name)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise record.fail(name, f"must be an RFC 3339 timestamp, got {text!r}") from None
    if value.tzinfo is None:
        raise record.fail(name, "must carry a UTC offset, e.g. 2026-11-25T00:00:00Z")
    return value


def _add_supplier(record: Record, drafts: dict[str, _Draft]) -> None:
    """Checks a supplier line and keeps it until its availability arrives."""
    supplier_id = record.text("id")
    if supplier_id in drafts:
        raise record.fail(
            "id",
            f"duplicate supplier id {supplier_id!r}"
            f" (first on line {drafts[supplier_id].record.line})",
        )
    modalities = _modalities(record)
    timezone = record.text("timezone")
    if timezone not in known_zones():
        raise record.fail("timezone", f"{timezone!r} is not an IANA timezone id")
    location = record.nested("location")
    assert location is not None
    where = Point(
        lat=location.number("lat", low=-90, high=90), lng=location.number("lng", low=-180, high=180)
    )
    drafts[supplier_id] = _Draft(
        record,
        dict(
            id=supplier_id,
            name=record.text("name"),
            specialties=record.strings("specialties"),
            languages=record.strings("languages", required=False),
            modalities=modalities,
            timezone=timezone,
            location=where,
            service_area=_service_area(record, where, needed=Modality.HOME_VISIT in modalities),
        ),
    )


def _modalities(record: Record) -> frozenset[Modality]:
    """A non-empty set of known modalities."""
    names = record.strings("modalities")
    if not names:
        raise record.fail("modalities", "must name at least one of IN_PERSON, HOME_VISIT, REMOTE")
    try:
        return frozenset(Modality(n) for n in names)
    except ValueError as exc:
        raise record.fail("modalities", f"{exc}; use IN_PERSON, HOME_VISIT or REMOTE") from None


def _service_area(record: Record, where: Point, *, needed: bool) -> Polygon | None:
    """A HOME_VISIT supplier's area: a radius around it or a valid polygon ring."""
    area = record.nested("service_area", required=needed)
    if area is None:
        return None
    if "radius_km" in area.data:
        radius = area.number("radius_km", low=0, high=MAX_AREA_RADIUS_KM)
        if radius == 0:
            raise area.fail("radius_km", "must be greater than 0")
        return circle(where, radius_km=radius)
    ring = area.get("polygon", list)
    try:
        polygon = Polygon([(float(lng), float(lat)) for lng, lat in ring])
    except (TypeError, ValueError):
        raise area.fail("polygon", "must be a ring of [lng, lat] pairs") from None
    if not polygon.is_valid or polygon.is_empty:
        raise area.fail("polygon", f"is not a valid polygon: {explain_validity(polygon)}")
    return polygon


def _add_availability(record: Record, drafts: dict[str, _Draft]) -> None:
    """Attaches an availability line to the supplier it names."""
    supplier_id = record.text("supplier_id")
    draft = drafts.get(supplier_id)
    if draft is None:
        raise record.fail("supplier_id", f"no supplier {supplier_id!r} earlier in the feed")
    if draft.availability is not None:
        raise record.fail("supplier_id", f"supplier {supplier_id!r} already has availability")
    notice = record.get("min_notice_minutes", int, required=False) or 0
    if notice < 0:
        raise record.fail("min_notice_minutes", "must not be negative")
    if notice > MAX_NOTICE_MINUTES:
        raise record.fail("min_notice_minutes", f"must be at most {MAX_NOTICE_MINUTES} (a year)")
    draft.availability = Availability(
        weekly=tuple(_weekly(rule) for rule in record.items("weekly")),
        one_off=tuple(_one_off(o) for o in record.items("one_off")),
        closed=frozenset(
            _date(record, k) for k in range(len(record.get("closed", list, required=False) or []))
        ),
        min_notice=timedelta(minutes=notice),
    )


def _weekly(rule: Record) -> WeeklyRule:
    """A weekly rule: days, local start and end, slot length."""
    days = rule.strings("days")
    unknown = [d for d in days if d not in DAYS]
    if not days or unknown:
        raise rule.fail("days", f"must list days among {', '.join(DAYS)}")
    start, end = _minute(rule, "start"), _minute(rule, "end")
    if end <= start:
        raise rule.fail("end", "must be after start")
    length = rule.get("slot_minutes", int)
    if not 5 <= length <= 240:
        raise rule.fail("slot_minutes", "must be between 5 and 240")
    return WeeklyRule(
        days=frozenset(DAYS[d] for d in days),
        start_minute=start,
        end_minute=end,
        slot_minutes=length,
    )


def _minute(record: Record, name: str) -> int:
    """A local "HH:MM" as minutes after midnight ("24:00" allowed)."""
    text = record.text(name)
    minute = minute_of_day(text)
    if minute is None:
        raise record.fail(name, f"must be HH:MM between 00:00 and 24:00, got {text!r}")
    return minute


def _one_off(record: Record) -> OneOff:
    """A one-off slot at a local wall time."""
    text = record.text("start")
    try:
        wall = datetime.fromisoformat(text)
    except ValueError:
        raise record.fail(
            "start", f"must be a local wall time YYYY-MM-DDTHH:MM, got {text!r}"
        ) from None
    if wall.tzinfo is not None:
        raise record.fail("start", "is the supplier's wall time: give no UTC offset")
    minutes = record.get("minutes", int)
    if not 5 <= minutes <= 240:
        raise record.fail("minutes", "must be between 5 and 240")
    return OneOff(start=wall, minutes=minutes)


def _date(record: Record, k: int) -> date:
    """The k-th closed local date."""
    text = record.data["closed"][k]
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise record.fail(f"closed[{k}]", f"must be a date YYYY-MM-DD, got {text!r}") from None
