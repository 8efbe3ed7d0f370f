"""The supplier catalogue: loaded once, indexed spatially, and matched against a user's query."""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import chain, islice
from zoneinfo import ZoneInfo

import numpy as np
from shapely import bounds, covers, prepare
from shapely.geometry import Point as ShapelyPoint
from shapely.geometry import Polygon

from matcher import slots as slotlib
from matcher.errors import Abandoned, InvalidArgument, NotFound
from matcher.geometry import (
    HAVERSINE_SLACK,
    Point,
    geodesic_km_to,
    haversine_km,
    lng_variants,
    nearest_first,
    search_boxes,
)
from matcher.index import SpatialIndex
from matcher.remote import RemoteRanker, best_first, daily_histogram
from matcher.slots import Availability, LocalHours, RenderedSlot, Slot, SlotRef, Window
from matcher.timezones import zone

#: Remote suppliers rank by how many slots fall in these user-local hours when none are asked for.
WAKING_HOURS = LocalHours(start_minute=8 * 60, end_minute=20 * 60)


class Modality(enum.Enum):
    """How care is delivered."""

    IN_PERSON = "IN_PERSON"
    HOME_VISIT = "HOME_VISIT"
    REMOTE = "REMOTE"


class Order(enum.Enum):
    """How matches are ranked."""

    BY_DISTANCE = "BY_DISTANCE"
    BY_EARLIEST_SLOT = "BY_EARLIEST_SLOT"


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
class MatchQuery:
    """A validated, coarsened Match request."""

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

    def __post_init__(self) -> None:
        if self.point is None and Modality.REMOTE not in self.modalities:
            raise InvalidArgument.of(
                "location", "a country locates only REMOTE care; send a point or a geohash"
            )

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


@dataclass(frozen=True)
class Match:
    """One supplier the user can book, how far it is, how it matched and its first slots."""

    supplier: Supplier
    distance_km: float
    modalities: frozenset[Modality]
    slots: tuple[RenderedSlot, ...]
    score: float  # remote suppliers' estimated weekly slots in the user's hours


@dataclass(frozen=True)
class Candidate:
    """A supplier that passed the spatial and attribute filters, before its slots are known."""

    index: int
    distance_km: float
    modalities: frozenset[Modality]
    score: float = 0.0  # remote suppliers' estimated weekly slots in the user's hours


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


class Catalog:
    """Every supplier of one feed, with R-trees over in-person points and home-visit areas."""

    def __init__(self, suppliers: Sequence[Supplier]) -> None:
        self.suppliers = tuple(suppliers)
        self._by_id = {s.id: i for i, s in enumerate(self.suppliers)}
        self._lats = np.array([s.location.lat for s in self.suppliers], dtype=np.float64)
        self._lngs = np.array([s.location.lng for s in self.suppliers], dtype=np.float64)
        self._id_ranks = np.argsort(np.argsort(np.array([s.id for s in self.suppliers])))
        self._in_person = self._having(Modality.IN_PERSON)
        self._home_visit = self._having(Modality.HOME_VISIT)
        self._remote = self._having(Modality.REMOTE)
        self._points = SpatialIndex(
            np.column_stack([self._lngs, self._lats, self._lngs, self._lats])[self._in_person]
        )
        self._areas = np.empty(len(self._home_visit), dtype=object)
        self._areas[:] = [self._area(i) for i in self._home_visit]
        prepare(self._areas)
        self._area_index = SpatialIndex(bounds(self._areas).reshape(-1, 4))
        self._ranker = RemoteRanker(
            self._remote.tolist(),
            [self.suppliers[i].timezone for i in self._remote.tolist()],
            [daily_histogram(self.suppliers[i].availability) for i in self._remote.tolist()],
        )

    def __len__(self) -> int:
        return len(self.suppliers)

    def _having(self, modality: Modality) -> np.ndarray:
        """Positions of the suppliers offering a modality."""
        return np.array(
            [i for i, s in enumerate(self.suppliers) if modality in s.modalities], dtype=np.int64
        )

    def _area(self, i: int) -> Polygon:
        """A home-visit supplier's service area."""
        area = self.suppliers[i].service_area
        assert area is not None  # the feed refuses HOME_VISIT without one
        return area

    def supplier(self, supplier_id: str) -> Supplier:
        """One supplier by id, or NotFound."""
        try:
            return self.suppliers[self._by_id[supplier_id]]
        except KeyError:
            raise NotFound("supplier", supplier_id) from None

    def with_availability(self, changed: Mapping[str, Availability]) -> Catalog:
        """A copy in which some suppliers (by id) have new availability; the indexes are
        shared, as availability moves no supplier and changes no modality."""
        suppliers = list(self.suppliers)
        for supplier_id, availability in changed.items():
            position = self._by_id.get(supplier_id)
            if position is None:
                raise NotFound("supplier", supplier_id)
            suppliers[position] = replace(suppliers[position], availability=availability)
        updated = copy.copy(self)
        updated.suppliers = tuple(suppliers)
        return updated

    def match(
        self,
        query: MatchQuery,
        *,
        now: datetime,
        limit: int | None = None,
        wanted: Callable[[], bool] = lambda: True,
    ) -> list[Match]:
        """The first ``limit`` bookable suppliers for a query (all if None), ranked as it asks.

        Nearby suppliers come by distance and remote-only ones by score, and slots are expanded
        only as far as the answer needs. Ordered by earliest slot, the remote-only suppliers
        considered are the best-scoring ``remote_pool(limit)``. ``wanted`` is asked before each
        candidate: once the caller has gone, the work stops with Abandoned.
        """
        seen: set[int] = set()
        nearby = self._nearby(query, seen=seen)
        remote = self._remote_ranked(query, exclude=seen)  # drawn only once nearby is done
        user_tz = zone(query.user_zone)

        def bookable(candidates: Iterable[Candidate]) -> Iterator[Match]:
            for candidate in candidates:
                if not wanted():
                    raise Abandoned("the caller stopped waiting for this match")
                found = self._with_slots(candidate, query=query, user_tz=user_tz, now=now)
                if found is not None:
                    yield found

        if query.order is Order.BY_DISTANCE:
            return list(islice(bookable(chain(nearby, remote)), limit))
        pool = chain(nearby, islice(remote, remote_pool(limit)))
        return sorted(bookable(pool), key=_earliest)[:limit]

    def _nearby(self, query: MatchQuery, *, seen: set[int]) -> Iterator[Candidate]:
        """In-person suppliers in the radius and home-visit ones serving the point, by distance.

        Lazy: geodesics are computed only as far as the caller reads. Adds each yielded
        supplier's position to ``seen``.
        """
        p = query.point
        if p is None:
            return
        in_person = np.empty(0, dtype=np.int64)
        if Modality.IN_PERSON in query.modalities:
            hits = self._points.intersecting(search_boxes(p, radius_km=query.radius_km))
            in_person = self._in_person[hits]
            rough = haversine_km(p, lats=self._lats[in_person], lngs=self._lngs[in_person])
            in_person = in_person[rough * (1 - HAVERSINE_SLACK) <= query.radius_km]
        home = (
            self._serving_areas(p)
            if Modality.HOME_VISIT in query.modalities
            else np.empty(0, dtype=np.int64)
        )
        positions = np.union1d(in_person, home)
        in_box = np.isin(positions, in_person).tolist()
        serves = np.isin(positions, home).tolist()
        for k, distance in nearest_first(
            p,
            lats=self._lats[positions],
            lngs=self._lngs[positions],
            ranks=self._id_ranks[positions],
        ):
            i = int(positions[k])
            supplier = self.suppliers[i]
            met = set()
            if in_box[k] and distance <= query.radius_km:
                met.add(Modality.IN_PERSON)
            if serves[k]:
                met.add(Modality.HOME_VISIT)
            if not met or not _wanted(supplier, query):
                continue
            if Modality.REMOTE in query.modalities and Modality.REMOTE in supplier.modalities:
                met.add(Modality.REMOTE)
            seen.add(i)
            yield Candidate(index=i, distance_km=distance, modalities=frozenset(met))

    def _remote_ranked(self, query: MatchQuery, *, exclude: set[int]) -> Iterator[Candidate]:
        """Remote suppliers not already nearby, best score first, distance measured lazily."""
        if Modality.REMOTE not in query.modalities or not len(self._ranker.positions):
            return
        scores = self._ranker.scores(
            user_zone=query.user_zone,
            hours=query.local_hours or WAKING_HOURS,
            at=query.window.start,
        )
        positions = self._ranker.positions
        for k in best_first(scores):
            i = int(positions[k])
            if i in exclude or not _wanted(self.suppliers[i], query):
                continue
            yield Candidate(
                index=i,
                distance_km=self._distance(query.point, i),
                modalities=frozenset({Modality.REMOTE}),
                score=float(scores[k]),
            )

    def _distance(self, p: Point | None, i: int) -> float:
        """Geodesic km from the user to one supplier; 0 when the user gave only a country."""
        if p is None:
            return 0.0
        return geodesic_km_to(p, Point(lat=float(self._lats[i]), lng=float(self._lngs[i])))

    def _serving_areas(self, p: Point) -> np.ndarray:
        """Home-visit suppliers whose service area holds the point, on either side of ±180°."""
        variants = lng_variants(p.lng)
        near = self._area_index.intersecting([(lng, p.lat, lng, p.lat) for lng in variants])
        inside = np.zeros(len(near), dtype=bool)
        for lng in variants:
            inside |= covers(self._areas[near], ShapelyPoint(lng, p.lat))
        return self._home_visit[near[inside]]

    def _with_slots(
        self, candidate: Candidate, *, query: MatchQuery, user_tz: ZoneInfo, now: datetime
    ) -> Match | None:
        """The candidate with its first slots in the window and the user's hours; None if none."""
        supplier = self.suppliers[candidate.index]
        supplier_tz = zone(supplier.timezone)
        found = iter_bookable(supplier, window=query.window, now=now)
        hours = query.local_hours
        if hours is not None:
            found = (s for s in found if hours.admits(s.start.astimezone(user_tz)))
        first = list(islice(found, query.max_slots))
        if not first:
            return None
        return Match(
            supplier=supplier,
            distance_km=candidate.distance_km,
            modalities=candidate.modalities,
            slots=tuple(
                slotlib.render(s, supplier_id=supplier.id, supplier_tz=supplier_tz, user_tz=user_tz)
                for s in first
            ),
            score=candidate.score,
        )

    def slots_for(
        self,
        supplier_id: str,
        *,
        user_zone: str,
        window: Window,
        now: datetime,
        local_hours: LocalHours | None = None,
        max_slots: int = 100,
    ) -> tuple[Supplier, list[RenderedSlot]]:
        """One supplier's bookable slots in a window, rendered for a user's zone."""
        supplier = self.supplier(supplier_id)
        user_tz = zone(user_zone)
        found = iter_bookable(supplier, window=window, now=now)
        if local_hours is not None:
            found = (s for s in found if local_hours.admits(s.start.astimezone(user_tz)))
        supplier_tz = zone(supplier.timezone)
        return supplier, [
            slotlib.render(s, supplier_id=supplier.id, supplier_tz=supplier_tz, user_tz=user_tz)
            for s in islice(found, max_slots)
        ]

    def check(self, slot_ids: Sequence[str], *, now: datetime) -> list[SlotCheck]:
        """Exactly one answer per slot id, in order."""
        return [self._check_one(text, now=now) for text in slot_ids]

    def _check_one(self, text: str, *, now: datetime) -> SlotCheck:
        """Whether one slot id is still bookable, and why not."""
        ref = slotlib.parse_slot_id(text)
        if ref is None:
            return SlotCheck(text, SlotStatus.MALFORMED_ID, "not a slot id issued by this service")
        if ref.supplier_id not in self._by_id:
            return SlotCheck(
                text, SlotStatus.UNKNOWN_SUPPLIER, f"supplier {ref.supplier_id!r} is not listed"
            )
        supplier = self.supplier(ref.supplier_id)
        if ref.start < now:
            return SlotCheck(text, SlotStatus.PAST, "the slot has already started")
        if not _offered(supplier, ref):
            return SlotCheck(
                text, SlotStatus.NOT_OFFERED, "the supplier no longer offers this slot"
            )
        notice = supplier.availability.min_notice
        if ref.start < now + notice:
            minutes = int(notice.total_seconds() // 60)
            return SlotCheck(
                text, SlotStatus.TOO_SOON, f"the supplier needs {minutes} minutes' notice"
            )
        return SlotCheck(text, SlotStatus.BOOKABLE, "bookable")


def iter_bookable(supplier: Supplier, *, window: Window, now: datetime) -> Iterator[Slot]:
    """A supplier's slots in a window that can still be booked given its minimum notice."""
    return slotlib.iter_slots(
        supplier.availability,
        tz=zone(supplier.timezone),
        window=window,
        not_before=now + supplier.availability.min_notice,
    )


def _offered(supplier: Supplier, ref: SlotRef) -> bool:
    """Whether the supplier's availability still holds exactly this slot."""
    around = Window(start=ref.start, end=ref.start + timedelta(seconds=1))
    found = slotlib.expand(
        supplier.availability, tz=zone(supplier.timezone), window=around, not_before=ref.start
    )
    return any(s.minutes == ref.minutes for s in found)


def _wanted(supplier: Supplier, query: MatchQuery) -> bool:
    """Whether a supplier passes the specialty and language filters."""
    if query.specialties and query.specialties.isdisjoint(supplier.specialties):
        return False
    return not (query.languages and query.languages.isdisjoint(supplier.languages))


def _earliest(m: Match) -> tuple[datetime, float, str]:
    """The BY_EARLIEST_SLOT key: first slot, then distance, then id."""
    return (m.slots[0].start, m.distance_km, m.supplier.id)


def remote_pool(limit: int | None) -> int | None:
    """How many best-scoring remote suppliers compete for the earliest slot."""
    return None if limit is None else max(100, 5 * limit)
