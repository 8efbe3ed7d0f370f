"""The entities and values every layer shares: suppliers, their availability, queries and answers.

Nothing here reads files, talks to a network or knows the API: each type holds its data and,
at most, checks or derives what follows from that data alone.
"""

from __future__ import annotations

import enum
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property

from shapely.geometry import Polygon

#: A slot, wherever it comes from (a weekly rule, a one-off, a real-time update), lasts this long.
SLOT_MINUTES = range(5, 241)
SLOT_MINUTES_RULE = f"must be between {SLOT_MINUTES[0]} and {SLOT_MINUTES[-1]}"
MINUTES_PER_DAY = 24 * 60
#: ASCII digits only: ``\d`` would also take other scripts' digits ("0٨:00").
HHMM = re.compile(r"(?:([01][0-9]|2[0-3]):([0-5][0-9])|(24):(00))")
HHMM_RULE = "must be HH:MM between 00:00 and 24:00"


def minute_of_day(text: str) -> int | None:
    """Minutes after midnight of a local "HH:MM" ("24:00" allowed), or None if malformed."""
    found = HHMM.fullmatch(text)
    if found is None:
        return None
    hours, minutes = (g for g in found.groups() if g is not None)
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True, slots=True)
class Point:
    """A WGS84 point in degrees."""

    lat: float
    lng: float


class Modality(enum.Enum):
    """How care is delivered."""

    IN_PERSON = "IN_PERSON"
    HOME_VISIT = "HOME_VISIT"
    REMOTE = "REMOTE"


class Order(enum.Enum):
    """How matches are ranked."""

    BY_DISTANCE = "BY_DISTANCE"
    BY_EARLIEST_SLOT = "BY_EARLIEST_SLOT"


@dataclass(frozen=True)
class Window:
    """A half-open interval of instants [start, end)."""

    start: datetime
    end: datetime

    def __contains__(self, instant: object) -> bool:
        return isinstance(instant, datetime) and self.start <= instant < self.end


@dataclass(frozen=True)
class LocalHours:
    """Minutes of a local day, start inclusive, end exclusive; end before start wraps midnight."""

    start_minute: int
    end_minute: int

    @property
    def length(self) -> int:
        """How many minutes of the day these hours admit; 0 for "24:00" to "00:00"."""
        if self.start_minute <= self.end_minute:
            return self.end_minute - self.start_minute
        return MINUTES_PER_DAY - self.start_minute + self.end_minute

    def admits(self, local: datetime) -> bool:
        """Whether a local time of day falls inside these hours."""
        minute = local.hour * 60 + local.minute
        if self.start_minute <= self.end_minute:
            return self.start_minute <= minute < self.end_minute
        return minute >= self.start_minute or minute < self.end_minute


#: The user's waking hours: what remote suppliers are ranked by when a Match names no hours.
WAKING_HOURS = LocalHours(start_minute=8 * 60, end_minute=20 * 60)


@dataclass(frozen=True)
class WeeklyRule:
    """Slots back to back from ``start_minute`` while a whole one fits before ``end_minute``."""

    days: frozenset[int]  # 0 is Monday
    start_minute: int  # minutes after local midnight
    end_minute: int  # at most 1440
    slot_minutes: int
    spots: int = 1  # places in each slot

    @cached_property
    def minutes(self) -> tuple[int, ...]:
        """The minutes of the local day at which this rule's slots start."""
        last = self.end_minute - self.slot_minutes
        return tuple(range(self.start_minute, last + 1, self.slot_minutes))


@dataclass(frozen=True, slots=True)
class OneOff:
    """A single slot at a local wall time."""

    start: datetime  # naive, the supplier's wall time
    minutes: int
    spots: int = 1  # places in the slot


@dataclass(frozen=True, order=True)
class Slot:
    """One bookable interval, as UTC instants, and how many of its places are still open."""

    start: datetime
    end: datetime
    spots_total: int = field(default=1, compare=False)
    spots_open: int = field(default=1, compare=False)

    @property
    def minutes(self) -> int:
        """The slot's real elapsed length."""
        return int((self.end - self.start).total_seconds() // 60)


@dataclass(frozen=True)
class Override:
    """A real-time update: inside ``window``, the supplier's slots are exactly ``slots``."""

    window: Window
    slots: tuple[Slot, ...]

    def outside(self, cut: Window) -> tuple[Override, ...]:
        """What is left of this override outside ``cut``: itself, nothing, or one or two pieces,
        each keeping the slots that start in it."""
        mine = self.window
        if cut.end <= mine.start or mine.end <= cut.start:
            return (self,)
        pieces = []
        if mine.start < cut.start:
            pieces.append(Window(start=mine.start, end=cut.start))
        if cut.end < mine.end:
            pieces.append(Window(start=cut.end, end=mine.end))
        return tuple(
            Override(window=w, slots=tuple(s for s in self.slots if s.start in w)) for w in pieces
        )


def folded(
    overrides: tuple[Override, ...], change: Override, *, now: datetime | None = None
) -> tuple[Override, ...]:
    """Overrides with one more applied on top, kept as disjoint pieces in time order.

    Serving the pieces gives exactly what applying every override in turn would, so a supplier
    updated 3,000 times in one day holds one piece for that day, not 3,000 overrides. Pieces
    that ended before ``now`` change no answer any more and are dropped.
    """
    kept = [piece for o in overrides for piece in o.outside(change.window)]
    kept.append(change)
    if now is not None:
        kept = [o for o in kept if o.window.end > now]
    return tuple(sorted(kept, key=lambda o: o.window.start))


@dataclass(frozen=True)
class Availability:
    """When a supplier can be booked, in its own wall time, and real-time updates since."""

    weekly: tuple[WeeklyRule, ...] = ()
    one_off: tuple[OneOff, ...] = ()
    closed: frozenset[date] = field(default_factory=frozenset)
    min_notice: timedelta = timedelta(0)
    overrides: tuple[Override, ...] = ()  # disjoint, in time order (see ``folded``)
    booked: tuple[tuple[datetime, int], ...] = ()  # (naive wall start, places already taken)

    def overridden(self, start: datetime, end: datetime) -> bool:
        """Whether a real-time override covers any instant of [start, end)."""
        return any(o.window.start < end and start < o.window.end for o in self.overrides)

    def taken(self, day: date, minute: int) -> int:
        """Places already booked in the slot starting at a minute of a local date."""
        return self._taken.get((day, minute), 0) if self.booked else 0

    @cached_property
    def one_offs_by_day(self) -> dict[date, list[tuple[int, int, int]]]:
        """One-off slots grouped by local date, as (minute of the day, length, places)."""
        by_day: dict[date, list[tuple[int, int, int]]] = {}
        for o in self.one_off:
            minute = o.start.hour * 60 + o.start.minute
            by_day.setdefault(o.start.date(), []).append((minute, o.minutes, o.spots))
        return by_day

    @cached_property
    def _taken(self) -> dict[tuple[date, int], int]:
        """Places booked by local date and minute of the day."""
        taken: dict[tuple[date, int], int] = {}
        for wall, places in self.booked:
            key = (wall.date(), wall.hour * 60 + wall.minute)
            taken[key] = taken.get(key, 0) + places
        return taken


@dataclass(frozen=True, slots=True)
class Supplier:
    """A care supplier and when it can be booked, in its own timezone."""

    id: str
    name: str
    specialties: tuple[str, ...]
    languages: tuple[str, ...]
    modalities: frozenset[Modality]
    timezone: str
    location: Point
    availability: Availability
    service_area: Polygon | None = None  # required for HOME_VISIT


@dataclass(frozen=True)
class ZoneState:
    """What a zone says at one instant."""

    zone: str
    utc_offset_seconds: int
    dst: bool
    abbreviation: str


@dataclass(frozen=True)
class CountryZone:
    """The zone a country code stands for: its most populous legal time's most populous zone."""

    country_code: str  # ISO 3166-1 alpha-2, upper case
    zone: str
    population_share: float  # of the country's people, those keeping this zone's legal time


class ZoneSource(enum.Enum):
    """Where a user's zone came from, as a response tells the caller."""

    POINT = "point"  # the zone at the coarse point of a point or a geohash
    COUNTRY = "country"  # the zone a country code stands for
    TIMEZONE = "timezone"  # given outright
    IP_CITY = "ip_city"  # the zone at the city an IP address was placed at, acting as a point
    IP_COUNTRY = "ip_country"  # the zone of the country an IP address was placed in, no point
    IP_AREA = "ip_area"  # the zone at a wide place an IP address was placed at, no point


@dataclass(frozen=True)
class IpPlacement:
    """How a GeoIP database placed a user's IP address; never the address itself.

    ``accuracy_km`` is how far from the database's place the user may be (None: it placed the
    address only in a country); ``country_code`` the country it names, if any.
    """

    accuracy_km: float | None
    country_code: str | None


@dataclass(frozen=True)
class UserLocation:
    """Where a user is, as coarsely as the service ever holds it, the user's zone, and how."""

    point: Point | None  # None for a country: only its zone is known
    zone: str
    country: CountryZone | None = None  # set when the zone came from a country code
    ip: IpPlacement | None = None  # set when the location came from an IP address

    @property
    def zone_source(self) -> ZoneSource:
        """Where the zone came from: a point, a country, or one of those from an IP address."""
        if self.ip is None:
            return ZoneSource.POINT if self.country is None else ZoneSource.COUNTRY
        if self.point is not None:
            return ZoneSource.IP_CITY
        return ZoneSource.IP_AREA if self.country is None else ZoneSource.IP_COUNTRY


@dataclass(frozen=True, kw_only=True)
class MatchQuery:
    """A validated, coarsened Match request: what the engine searches for."""

    point: Point | None  # None when the user gave only a country: remote suppliers only
    user_zone: str
    window: Window
    radius_km: float = 25.0
    specialties: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    modalities: frozenset[Modality] = frozenset(Modality)
    local_hours: LocalHours | None = None
    max_slots: int = 10
    order: Order = Order.BY_DISTANCE

    def key(self) -> tuple[object, ...]:
        """Everything but the window, in a stable form: what a page token stays bound to."""
        return (
            self.point,
            self.user_zone,
            self.radius_km,
            sorted(self.specialties),
            sorted(self.languages),
            sorted(m.value for m in self.modalities),
            self.local_hours,
            self.max_slots,
            self.order.value,
        )


@dataclass(frozen=True, kw_only=True)
class RenderedSlot:
    """A slot as a user sees it: both local times and how the two zones differ at its start."""

    slot_id: str
    start: datetime
    end: datetime
    user_local_start: str
    supplier_local_start: str
    user_local_end: str
    supplier_local_end: str
    offset_difference_minutes: int
    day_shift: int
    spots_total: int
    spots_open: int

    @property
    def user_date(self) -> date:
        """The user's local date at the slot's start: the day a booking screen shows it on."""
        return date.fromisoformat(self.user_local_start[:10])


@dataclass(frozen=True)
class SlotDay:
    """The slots that start on one date of the user's calendar, in time order."""

    day: date
    slots: tuple[RenderedSlot, ...]


def by_user_day(slots: Sequence[RenderedSlot]) -> list[SlotDay]:
    """Slots in time order grouped by the user's local date of their starts, days in order."""
    return [
        SlotDay(day=day, slots=tuple(group))
        for day, group in itertools.groupby(slots, key=lambda s: s.user_date)
    ]


@dataclass(frozen=True)
class Match:
    """One supplier the user can book, how far it is, how it matched and its first slots."""

    supplier: Supplier
    distance_km: float
    modalities: frozenset[Modality]
    slots: Sequence[RenderedSlot]
    score: float  # remote suppliers' estimated weekly slots in the user's hours


class SlotStatus(enum.Enum):
    """Why a slot id is or is not bookable now."""

    BOOKABLE = "BOOKABLE"
    MALFORMED_ID = "MALFORMED_ID"
    UNKNOWN_SUPPLIER = "UNKNOWN_SUPPLIER"
    NOT_OFFERED = "NOT_OFFERED"
    TOO_SOON = "TOO_SOON"
    PAST = "PAST"


@dataclass(frozen=True)
class SlotCheck:
    """The answer for one slot id."""

    slot_id: str
    status: SlotStatus
    reason: str

    @property
    def bookable(self) -> bool:
        """Whether the backend may book this slot now."""
        return self.status is SlotStatus.BOOKABLE


@dataclass(frozen=True)
class Update:
    """A real-time update: one supplier's slots inside a window, as of when it was received."""

    update_id: str
    supplier_id: str
    override: Override
    received_at: datetime

    def same_change(self, other: Update) -> bool:
        """Whether two updates change the same thing, whenever they arrived."""
        return (self.supplier_id, self.override) == (other.supplier_id, other.override)
