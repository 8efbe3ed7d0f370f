"""Supplier feeds (docs/feeds.md): files or sharded snapshots, checked record by record.

Every problem is reported as file, line, field and reason. A feed is refused whole when its
file or header is broken, or when it rejects a larger share of its records than the caller
allows (by default none), so a bad file never half-replaces a good catalogue.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TypeVar, cast

import shapely
from shapely.errors import GEOSException
from shapely.geometry import Polygon, shape
from shapely.validation import explain_validity

from matcher.catalog import Modality, Supplier
from matcher.crs import WGS84, Crs
from matcher.errors import FeedError, FeedRejected
from matcher.geometry import Point, circles
from matcher.records import CSV_SUFFIXES, Progress, Record, file_records
from matcher.slots import Availability, OneOff, WeeklyRule, minute_of_day
from matcher.timezones import known_zones

H = TypeVar("H", bound=Hashable)
FORMAT_VERSIONS = (1, 2)
NO_AVAILABILITY = Availability()  # a supplier's until its availability line is read
#: Version 2 coordinates are (x, y) in the header's CRS, never beyond this in absolute value.
COORDINATE_LIMIT = 1e9
SHARD_SUFFIXES = (".jsonl", ".jsonl.gz", *CSV_SUFFIXES)
AREA_KINDS = ("radius_km", "polygon", "geojson", "wkt")
DAYS = {"MON": 0, "TUE": 1, "WED": 2, "THU": 3, "FRI": 4, "SAT": 5, "SUN": 6}
MAX_AREA_RADIUS_KM = 200.0
MAX_SPOTS = 1000
MAX_NOTICE_MINUTES = 366 * 24 * 60


@dataclass(frozen=True)
class Feed:
    """A loaded feed: its suppliers, when the supplier side generated it, and what it rejected."""

    suppliers: tuple[Supplier, ...]
    generated_at: datetime
    path: str
    format_version: int = 1
    records: int = 0  # every line after a header, accepted or not (a CSV row counts once)
    rejected: tuple[FeedError, ...] = ()  # problems with records left out, in line order

    @property
    def rejected_records(self) -> int:
        """How many records (lines of any shard) had at least one problem."""
        return len({(e.path, e.line) for e in self.rejected})

    @property
    def rejected_share(self) -> float:
        """The share of records left out, from 0 to 1."""
        return self.rejected_records / self.records if self.records else 0.0


@dataclass(frozen=True)
class Shard:
    """Which part of a sharded snapshot a file is."""

    snapshot: str
    index: int  # 0 to count - 1
    count: int


@dataclass(frozen=True)
class _Header:
    """What the header says about the records after it."""

    version: int
    generated_at: datetime
    crs: Crs | None  # None in version 1, whose coordinates are lat/lng degrees
    shard: Shard | None = None


class Shared:
    """One instance per distinct immutable value, each checked once: feeds repeat the same
    opening hours, specialties and closures many times, and a large catalogue holds each once."""

    def __init__(self) -> None:
        self._seen: dict[Hashable, Hashable] = {}
        self._made: dict[tuple[str, int, str], Hashable] = {}

    def __call__(self, value: H) -> H:
        """The first instance equal to ``value``."""
        return cast(H, self._seen.setdefault(value, value))

    def made(self, record: Record, name: str, make: Callable[[], H], *, version: int = 1) -> H:
        """What ``make`` builds from a field, reused for any later field written the same.

        The key is the field's raw JSON as Python writes it (and the format version it was
        checked under), so 5, 5.0 and true never share a value; only a value that passed its
        checks is remembered.
        """
        key = (name, version, repr(record.data.get(name)))
        if key not in self._made:
            self._made[key] = self(make())
        return cast(H, self._made[key])


@dataclass(slots=True)
class _Draft:
    """A supplier line read: complete once its availability line arrives (and its circle)."""

    path: str
    line: int
    supplier: Supplier  # with no availability until its line arrives
    radius_km: float | None = None  # a circular service area, drawn with all the others at once
    complete: bool = False


def load_feed(
    path: Path, *, max_rejected_share: float = 0.0, progress: Progress | None = None
) -> Feed:
    """Reads and checks a whole feed, leaving bad records out.

    Raises FeedRejected, naming every bad record, when the file or its header is broken or
    when more than ``max_rejected_share`` of the records are bad.
    """
    return accepted(read_feed(path, progress=progress), max_rejected_share=max_rejected_share)


def accepted(feed: Feed, *, max_rejected_share: float) -> Feed:
    """The feed itself, or FeedRejected if it left out more than the share allowed."""
    if feed.rejected_share > max_rejected_share:
        raise FeedRejected(
            feed.path,
            list(feed.rejected),
            summary=f"feed {feed.path} refused: {feed.rejected_records} of {feed.records}"
            f" records rejected ({feed.rejected_share:.2%},"
            f" more than the {max_rejected_share:.2%} allowed)",
        )
    return feed


def read_feed(path: Path, *, progress: Progress | None = None) -> Feed:
    """Reads and checks every record, leaving bad ones out (each named in ``rejected``).

    A directory is a sharded snapshot: its shard files, read in shard order as if they were
    one file. Raises FeedRejected only when a file cannot be read, a header is broken, or a
    snapshot is not exactly its n shards.
    """
    with _collector_paused():
        files = _shards(path) if path.is_dir() else [path]
        reader = _Reader()
        headers = [reader.read(file, progress) for file in files]
        return reader.feed(str(path), headers)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pauses the cycle collector: nearly every object a read allocates lives on, so
    collecting during it only rescans a growing heap (a quarter of the read time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Reader:
    """Reads the files of one feed, in order, into one set of suppliers."""

    def __init__(self) -> None:
        self.errors: list[FeedError] = []
        self.drafts: dict[str, _Draft] = {}
        self.shared = Shared()
        self.records = 0
        self.files: list[str] = []

    def read(self, path: Path, progress: Progress | None) -> _Header | None:
        """Reads one file's records; its header, or None if it has no good one."""
        header: _Header | None = None
        self.files.append(str(path))
        last_line = 1  # the header's: not a record of the catalogue
        for record in file_records(path, progress):
            if record.line != last_line:  # a CSV row yields two records but counts once
                self.records += 1
                last_line = record.line
            if isinstance(record, FeedError):
                self.errors.append(record)
                continue
            try:
                header = self._take(record, header) or header
            except FeedError as exc:
                self.errors.append(exc)
        return header

    def _take(self, record: Record, header: _Header | None) -> _Header | None:
        """Adds one record; the header, if the record is one."""
        kind = record.text("record")
        if record.line == 1 and kind != "header":
            raise record.fail("record", "the first line must be the header record")
        if kind == "header":
            return _header(record)
        if kind == "supplier":
            _add_supplier(record, self.drafts, self.shared, crs=header.crs if header else None)
        elif kind == "availability":
            _add_availability(
                record, self.drafts, self.shared, version=header.version if header else 1
            )
        else:
            raise record.fail("record", f"unknown record type {kind!r}")
        return None

    def feed(self, name: str, headers: list[_Header | None]) -> Feed:
        """The feed of every file read, or FeedRejected if a file or header is broken."""
        errors = self.errors
        for supplier_id, draft in self.drafts.items():
            if not draft.complete:
                errors.append(
                    FeedError(
                        path=draft.path,
                        line=draft.line,
                        field="id",
                        reason=f"supplier {supplier_id!r} has no availability record",
                    )
                )
        first = headers[0]
        if first is None and not errors:
            errors.append(FeedError(path=name, line=1, field="record", reason="the feed is empty"))
        order = {path: k for k, path in enumerate(self.files)}
        errors.sort(key=lambda e: (order.get(e.path, -1), e.line))
        structural = [e for e in errors if e.line <= 1]  # a file as a whole, or its header
        if first is None or structural:
            raise FeedRejected(name, structural or errors)
        return Feed(
            suppliers=_suppliers(self.drafts),
            generated_at=first.generated_at,
            path=name,
            format_version=first.version,
            records=self.records,
            rejected=tuple(errors),
        )


def _suppliers(drafts: dict[str, _Draft]) -> tuple[Supplier, ...]:
    """The suppliers whose records were all good, their circular areas drawn in one batch."""
    complete = [d for d in drafts.values() if d.complete]
    round_areas = [(d, d.radius_km) for d in complete if d.radius_km is not None]
    drawn = circles(
        [d.supplier.location for d, _ in round_areas], radii_km=[r for _, r in round_areas]
    )
    for (draft, _), area in zip(round_areas, drawn, strict=True):
        draft.supplier = replace(draft.supplier, service_area=area)
    return tuple(d.supplier for d in complete)


def _header(record: Record) -> _Header:
    """The header's format version, generation time and (from version 2) CRS."""
    if record.line != 1:
        raise record.fail("record", "the header must be the first line")
    version = record.get("format_version", int)
    if version not in FORMAT_VERSIONS:
        raise record.fail("format_version", f"must be 1 or 2, got {version}")
    generated_at = _instant(record, "generated_at")
    if version == 1:
        for name in ("crs", "shard"):
            if name in record.data:
                raise record.fail(name, "needs format_version 2")
        return _Header(version, generated_at, crs=None)
    try:
        crs = Crs(record.get("crs", str, required=False) or WGS84)
    except ValueError as exc:
        raise record.fail("crs", str(exc)) from None
    shard = record.nested("shard", required=False)
    return _Header(version, generated_at, crs, shard=_shard(shard) if shard else None)


def _shard(record: Record) -> Shard:
    """A header's shard: which of how many, of which snapshot."""
    count = record.get("count", int)
    if count < 1:
        raise record.fail("count", "must be at least 1")
    index = record.get("index", int)
    if not 0 <= index < count:
        raise record.fail("index", f"must be in [0, {count - 1}], got {index}")
    return Shard(snapshot=record.text("snapshot"), index=index, count=count)


def _shards(directory: Path) -> list[Path]:
    """A snapshot directory's shard files in shard order.

    Raises FeedRejected unless they are exactly the n shards of one snapshot. A file whose
    header cannot be read is left for the full read, which names the problem.
    """
    name = str(directory)
    files = sorted(f for f in directory.iterdir() if f.name.endswith(SHARD_SUFFIXES))
    if not files:
        raise FeedRejected(
            name, [FeedError(path=name, line=0, field="file", reason="holds no shard files")]
        )
    headers = {f: _peek_header(f) for f in files}
    known = {f: h for f, h in headers.items() if h is not None}
    if len(known) < len(files):
        return files
    problems = _shard_problems(name, known)
    if problems:
        raise FeedRejected(name, problems, summary=f"snapshot {name} refused: not all its shards")
    by_index = {h.shard.index: f for f, h in known.items() if h.shard is not None}
    return [by_index[k] for k in sorted(by_index)]


def _peek_header(path: Path) -> _Header | None:
    """A file's header, if its first line is a good one."""
    try:
        first = next(iter(file_records(path, None)), None)
        if isinstance(first, Record) and first.line == 1 and first.data.get("record") == "header":
            return _header(first)
    except (FeedError, FeedRejected):
        pass
    return None


def _shard_problems(name: str, headers: dict[Path, _Header]) -> list[FeedError]:
    """Why some files are not exactly the n shards of one snapshot (empty if they are)."""
    problems = [
        FeedError(path=str(f), line=1, field="shard", reason="is required in a snapshot directory")
        for f, h in headers.items()
        if h.shard is None
    ]
    sharded = {f: (h, h.shard) for f, h in headers.items() if h.shard is not None}
    if problems or not sharded:
        return problems
    first_file, (first, first_shard) = next(iter(sharded.items()))
    seen: dict[int, Path] = {}
    for f, (header, shard) in sharded.items():
        for field_name, mine, theirs in (
            ("shard.snapshot", shard.snapshot, first_shard.snapshot),
            ("shard.count", shard.count, first_shard.count),
            ("generated_at", header.generated_at, first.generated_at),
        ):
            if mine != theirs:
                problems.append(
                    FeedError(
                        path=str(f),
                        line=1,
                        field=field_name,
                        reason=f"is {mine}, but {first_file.name} has {theirs}",
                    )
                )
        if shard.index in seen:
            problems.append(
                FeedError(
                    path=str(f),
                    line=1,
                    field="shard.index",
                    reason=f"shard {shard.index} is also {seen[shard.index].name}",
                )
            )
        seen[shard.index] = f
    problems.extend(
        FeedError(
            path=name,
            line=0,
            field="shard",
            reason=f"shard {k} of {first_shard.count} of {first_shard.snapshot!r} is missing",
        )
        for k in range(first_shard.count)
        if k not in seen
    )
    return problems


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


def _add_supplier(
    record: Record, drafts: dict[str, _Draft], shared: Shared, *, crs: Crs | None
) -> None:
    """Checks a supplier line and keeps it until its availability arrives."""
    supplier_id = record.text("id")
    if supplier_id in drafts:
        first = _place(drafts[supplier_id], record)
        raise record.fail("id", f"duplicate supplier id {supplier_id!r} (first on {first})")
    modalities = _modalities(record)
    timezone = record.text("timezone")
    if timezone not in known_zones():
        raise record.fail("timezone", f"{timezone!r} is not an IANA timezone id")
    where = _location(record, crs)
    area = _service_area(record, needed=Modality.HOME_VISIT in modalities, crs=crs)
    drafts[supplier_id] = _Draft(
        record.path,
        record.line,
        Supplier(
            id=supplier_id,
            name=record.text("name"),
            specialties=shared(record.strings("specialties")),
            languages=shared(record.strings("languages", required=False)),
            modalities=shared(modalities),
            timezone=shared(timezone),
            location=where,
            service_area=area if isinstance(area, Polygon) else None,
            availability=NO_AVAILABILITY,
        ),
        radius_km=area if isinstance(area, float) else None,
    )


def _place(draft: _Draft, record: Record) -> str:
    """Where a draft's supplier line is, as seen from another record."""
    return f"line {draft.line}" if draft.path == record.path else f"{draft.path}:{draft.line}"


def _modalities(record: Record) -> frozenset[Modality]:
    """A non-empty set of known modalities."""
    names = record.strings("modalities")
    if not names:
        raise record.fail("modalities", "must name at least one of IN_PERSON, HOME_VISIT, REMOTE")
    try:
        return frozenset(Modality(n) for n in names)
    except ValueError as exc:
        raise record.fail("modalities", f"{exc}; use IN_PERSON, HOME_VISIT or REMOTE") from None


def _location(record: Record, crs: Crs | None) -> Point:
    """A supplier's place: lat/lng degrees in version 1, x/y in the header's CRS from 2."""
    location = record.nested("location")
    assert location is not None
    if crs is None:
        return Point(
            lat=location.number("lat", low=-90, high=90),
            lng=location.number("lng", low=-180, high=180),
        )
    x = location.number("x", low=-COORDINATE_LIMIT, high=COORDINATE_LIMIT)
    y = location.number("y", low=-COORDINATE_LIMIT, high=COORDINATE_LIMIT)
    lng, lat = crs.lng_lat(x, y)
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):  # also false for NaN
        raise record.fail("location", f"({x:g}, {y:g}) in {crs.code} is not a point on Earth")
    return Point(lat=lat, lng=lng)


def _service_area(record: Record, *, needed: bool, crs: Crs | None) -> Polygon | float | None:
    """A HOME_VISIT supplier's area: a radius in km around it, or a valid polygon in WGS84."""
    area = record.nested("service_area", required=needed)
    if area is None:
        return None
    given = [k for k in AREA_KINDS if k in area.data]
    if len(given) != 1:
        raise record.fail("service_area", f"must give exactly one of {', '.join(AREA_KINDS)}")
    kind = given[0]
    if kind == "radius_km":
        radius = area.number("radius_km", low=0, high=MAX_AREA_RADIUS_KM)
        if radius == 0:
            raise area.fail("radius_km", "must be greater than 0")
        return radius
    if crs is None and kind != "polygon":
        raise area.fail(kind, "needs format_version 2")
    written = _polygon(area, kind, crs=crs)
    polygon = crs.polygon(written) if crs else written
    if not polygon.is_valid or polygon.is_empty:
        raise area.fail(kind, f"is not a valid polygon: {explain_validity(polygon)}")
    return polygon


def _polygon(area: Record, kind: str, *, crs: Crs | None) -> Polygon:
    """A service area as written: a ring of coordinate pairs, a GeoJSON Polygon, or WKT."""
    if kind == "polygon":
        try:
            return Polygon([(float(x), float(y)) for x, y in area.get("polygon", list)])
        except (TypeError, ValueError):
            pairs = "[x, y]" if crs else "[lng, lat]"
            raise area.fail(kind, f"must be a ring of {pairs} pairs") from None
    try:
        found = (
            shape(area.get("geojson", dict))
            if kind == "geojson"
            else shapely.from_wkt(area.text("wkt"))
        )
    except (TypeError, ValueError, KeyError, GEOSException) as exc:
        raise area.fail(kind, f"is not a polygon: {exc}") from None
    if not isinstance(found, Polygon):
        raise area.fail(kind, f"must be a Polygon, not {found.geom_type}")
    return found


def _add_availability(
    record: Record, drafts: dict[str, _Draft], shared: Shared, *, version: int
) -> None:
    """Attaches an availability line to the supplier it names."""
    supplier_id = record.text("supplier_id")
    draft = drafts.get(supplier_id)
    if draft is None:
        raise record.fail("supplier_id", f"no supplier {supplier_id!r} earlier in the feed")
    if draft.complete:
        raise record.fail("supplier_id", f"supplier {supplier_id!r} already has availability")
    notice = record.get("min_notice_minutes", int, required=False) or 0
    if notice < 0:
        raise record.fail("min_notice_minutes", "must not be negative")
    if notice > MAX_NOTICE_MINUTES:
        raise record.fail("min_notice_minutes", f"must be at most {MAX_NOTICE_MINUTES} (a year)")
    availability = Availability(
        weekly=shared.made(
            record,
            "weekly",
            lambda: tuple(shared(_weekly(r, version=version)) for r in record.items("weekly")),
            version=version,
        ),
        one_off=tuple(_one_off(o, version=version) for o in record.items("one_off")),
        closed=shared.made(record, "closed", lambda: _closed(record)),
        min_notice=timedelta(minutes=notice),
        booked=_booked(record, version=version),
    )
    draft.supplier = replace(draft.supplier, availability=availability)
    draft.complete = True


def _closed(record: Record) -> frozenset[date]:
    """The local dates a supplier is closed."""
    return frozenset(
        _date(record, k) for k in range(len(record.get("closed", list, required=False) or []))
    )


def _weekly(rule: Record, *, version: int) -> WeeklyRule:
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
        spots=_spots(rule, version=version),
    )


def _spots(record: Record, *, version: int) -> int:
    """The places in a slot: 1 unless a version 2 record says more."""
    if "spots" not in record.data:
        return 1
    if version < 2:
        raise record.fail("spots", "needs format_version 2")
    spots: int = record.get("spots", int)
    if not 1 <= spots <= MAX_SPOTS:
        raise record.fail("spots", f"must be between 1 and {MAX_SPOTS}")
    return spots


def _minute(record: Record, name: str) -> int:
    """A local "HH:MM" as minutes after midnight ("24:00" allowed)."""
    text = record.text(name)
    minute = minute_of_day(text)
    if minute is None:
        raise record.fail(name, f"must be HH:MM between 00:00 and 24:00, got {text!r}")
    return minute


def _one_off(record: Record, *, version: int) -> OneOff:
    """A one-off slot at a local wall time."""
    wall = _wall(record, "start")
    minutes = record.get("minutes", int)
    if not 5 <= minutes <= 240:
        raise record.fail("minutes", "must be between 5 and 240")
    return OneOff(start=wall, minutes=minutes, spots=_spots(record, version=version))


def _booked(record: Record, *, version: int) -> tuple[tuple[datetime, int], ...]:
    """Places already booked, by the local wall time their slot starts at (version 2)."""
    if "booked" in record.data and version < 2:
        raise record.fail("booked", "needs format_version 2")
    return tuple(_booking(b) for b in record.items("booked"))


def _booking(record: Record) -> tuple[datetime, int]:
    """Places already booked in the slot starting at a local wall time."""
    taken: int = record.get("spots", int)
    if not 1 <= taken <= MAX_SPOTS:
        raise record.fail("spots", f"must be between 1 and {MAX_SPOTS}")
    return _wall(record, "start"), taken


def _wall(record: Record, name: str) -> datetime:
    """A local wall time "YYYY-MM-DDTHH:MM", with no UTC offset."""
    text = record.text(name)
    try:
        wall = datetime.fromisoformat(text)
    except ValueError:
        raise record.fail(
            name, f"must be a local wall time YYYY-MM-DDTHH:MM, got {text!r}"
        ) from None
    if wall.tzinfo is not None:
        raise record.fail(name, "is the supplier's wall time: give no UTC offset")
    return wall


def _date(record: Record, k: int) -> date:
    """The k-th closed local date."""
    text = record.data["closed"][k]
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise record.fail(f"closed[{k}]", f"must be a date YYYY-MM-DD, got {text!r}") from None
