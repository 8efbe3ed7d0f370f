"""The use cases: what a caller can ask of the service, each taking plain typed inputs.

A shell (the gRPC servicers, a command line) converts its request into these inputs, calls one
use case and converts the answer back. Validation goes through ``queries``; the catalogue does
the matching; paging lives here, bound to the query and never to a wire format.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from matcher import queries
from matcher.engine.budget import Budget
from matcher.engine.catalog import Catalog
from matcher.errors import (
    FeedRejected,
    GeoipDatabaseError,
    GeoipNotConfigured,
    GeoipReloadRefused,
    Unavailable,
)
from matcher.geo.geoip import DatabaseInfo, GeoipResolver
from matcher.geo.timezones import TimezoneResolver, state_at
from matcher.model import (
    Match,
    MatchQuery,
    Modality,
    Order,
    RenderedSlot,
    SlotCheck,
    SlotDay,
    Supplier,
    Update,
    UserLocation,
    Window,
    ZoneState,
    by_user_day,
)
from matcher.paging import Cursor, PageTokens, fingerprint
from matcher.queries import HoursInput, LocationInput, SlotInput, WindowInput
from matcher.serving.holder import Snapshot
from matcher.serving.replica import FeedStatus, Replica
from matcher.settings import Limits, how_to_set
from matcher.vocabulary import Vocabulary, languages, specialties

log = logging.getLogger("matcher.service")
reload_log = logging.getLogger("matcher.reload")


@dataclass(frozen=True, kw_only=True)
class MatchInput:
    """A Match request as the caller sent it; zero values mean the defaults."""

    location: LocationInput
    radius_km: float = 0.0
    specialties: Sequence[str] = ()
    languages: Sequence[str] = ()
    modalities: frozenset[Modality] = frozenset()  # none means all
    window: WindowInput = field(default_factory=WindowInput)
    local_hours: HoursInput | None = None
    page_size: int = 0
    page_token: str = ""
    max_slots_per_supplier: int = 0
    order: Order = Order.BY_DISTANCE


@dataclass(frozen=True, kw_only=True)
class ListSlotsInput:
    """A ListSlots request: one supplier, and the user as a location or a zone id."""

    supplier_id: str
    location: LocationInput | None = None
    timezone: str | None = None
    window: WindowInput = field(default_factory=WindowInput)
    local_hours: HoursInput | None = None
    page_size: int = 0
    page_token: str = ""
    by_user_day: bool = False  # also group the page's slots by the user's local date


@dataclass(frozen=True, kw_only=True)
class UpdateInput:
    """A real-time availability update as the caller sent it."""

    update_id: str
    supplier_id: str
    window: WindowInput
    slots: Sequence[SlotInput] = ()
    wait_applied: bool = True  # answer once this process serves it, not only once it is durable


@dataclass(frozen=True, kw_only=True)
class ReloadInput:
    """A reload as the operator asked for it: which feed ("" for the configured one), by whom."""

    source: str = ""
    requested_by: str = ""


@dataclass(frozen=True)
class ResolvedZone:
    """Where the user was placed and what their zone says now."""

    user: UserLocation
    zone: ZoneState


@dataclass(frozen=True)
class MatchPage:
    """One page of matches, the window searched, and the token of the next page ("" if last)."""

    user: UserLocation
    zone: ZoneState
    matches: Sequence[Match]
    window: Window
    next_page_token: str


@dataclass(frozen=True)
class SlotList:
    """One page of a supplier's slots in a window, rendered for the user's zone.

    ``days`` groups the same slots by the user's local date when the request asked for it; a
    day may go on at the start of the next page. ``next_page_token`` is "" on the last page.
    """

    supplier: Supplier
    zone: ZoneState
    slots: Sequence[RenderedSlot]
    window: Window
    next_page_token: str = ""
    days: Sequence[SlotDay] | None = None
    user: UserLocation | None = None  # where the zone came from; None when given outright


@dataclass(frozen=True)
class FilterValue:
    """A value a Match filter accepts, its label for people, and how many suppliers have it."""

    value: str
    label: str
    suppliers: int


@dataclass(frozen=True)
class FilterValues:
    """The specialties and languages of the suppliers serving now, most common first."""

    specialties: Sequence[FilterValue]
    languages: Sequence[FilterValue]


@dataclass(frozen=True)
class ServingStatus:
    """What an operator asks is serving: the feed (its last refusal, its place in the store)
    and the GeoIP database."""

    feed: FeedStatus
    geoip: DatabaseInfo | None


@dataclass(frozen=True, kw_only=True)
class UpdateOutcome:
    """An update as recorded, whether this call recorded it, and where it stands."""

    update: Update
    applied: bool  # false for a retry of an update recorded before
    sequence: int  # its place in the store's log
    served: bool  # whether this process served it when the call answered


class Matching:
    """The public use cases, over whichever catalogue is serving when each call arrives."""

    def __init__(
        self,
        *,
        catalog: Callable[[], Catalog],
        resolver: TimezoneResolver,
        tokens: PageTokens,
        limits: Limits,
        clock: Callable[[], datetime],
        geoip: GeoipResolver | None = None,
    ) -> None:
        self._catalog = catalog
        self._resolver = resolver
        self._geoip = geoip
        self._tokens = tokens
        self._limits = limits
        self._clock = clock

    def resolve_timezone(self, location: LocationInput) -> ResolvedZone:
        """The user's coarse place and zone, and the zone's state now."""
        user = self._locate(location)
        return ResolvedZone(user=user, zone=state_at(user.zone, at=self._clock()))

    def match(self, request: MatchInput, *, wanted: Callable[[], bool]) -> MatchPage:
        """One page of the suppliers the user can book, ranked as asked.

        ``wanted`` tells whether the caller is still waiting (once not, the work stops); the
        work is capped by the limits' ``max_candidates`` and ``max_expanded_slots``.
        """
        limits, now = self._limits, self._clock()
        radius_km = queries.radius(request.radius_km, limits=limits, field="radius_km")
        user = self._locate(request.location, radius_km=radius_km)
        modalities = request.modalities or frozenset(Modality)
        page_size = queries.page_size(request.page_size, limits=limits, field="page_size")
        specialties_wanted, languages_wanted = queries.filters(
            specialties=request.specialties, languages=request.languages
        )
        query = MatchQuery(
            point=user.point,
            user_zone=user.zone,
            window=queries.window(request.window, now=now, limits=limits, field="window"),
            radius_km=radius_km,
            specialties=specialties_wanted,
            languages=languages_wanted,
            modalities=modalities,
            local_hours=queries.local_hours(request.local_hours, field="local_hours"),
            max_slots=queries.slots_per_supplier(
                request.max_slots_per_supplier, limits=limits, field="max_slots_per_supplier"
            ),
            order=request.order,
        )
        queries.reachable(user, modalities, field="location")
        bound = fingerprint(query.key(), request.window)
        cursor = Cursor(offset=0, window=query.window)
        if request.page_token:
            cursor = self._tokens.read(request.page_token, query=bound, now=now, field="page_token")
            query = replace(query, window=cursor.window)
        end = cursor.offset + page_size
        matches = self._catalog().match(query, now=now, limit=end + 1, budget=self._budget(wanted))
        following = ""
        if len(matches) > end:
            following = self._tokens.issue(
                Cursor(offset=end, window=query.window), query=bound, now=now
            )
        return MatchPage(
            user=user,
            zone=state_at(user.zone, at=now),
            matches=matches[cursor.offset : end],
            window=query.window,
            next_page_token=following,
        )

    def get_supplier(self, supplier_id: str) -> Supplier:
        """One supplier by id."""
        return self._catalog().supplier(queries.required(supplier_id, field="supplier_id"))

    def list_slots(
        self, request: ListSlotsInput, *, wanted: Callable[[], bool] = lambda: True
    ) -> SlotList:
        """One page of a supplier's bookable slots in a window, in the user's time; capped like
        Match.

        Pages follow the slots' instants: the token names the first slot of the next page, so
        slots that come or go before it between two calls shift nothing.
        """
        limits, now = self._limits, self._clock()
        supplier_id = queries.required(request.supplier_id, field="supplier_id")
        user = self._user(request)
        user_zone = user.zone if isinstance(user, UserLocation) else user
        window = queries.window(request.window, now=now, limits=limits, field="window")
        hours = queries.local_hours(request.local_hours, field="local_hours")
        size = queries.listed_slots(request.page_size, limits=limits, field="page_size")
        bound = fingerprint("slots", supplier_id, user_zone, hours, request.window)
        cursor = Cursor(offset=0, window=window)
        if request.page_token:
            cursor = self._tokens.read(request.page_token, query=bound, now=now, field="page_token")
        window = cursor.window
        supplier, found = self._catalog().slots_for(
            supplier_id,
            user_zone=user_zone,
            window=replace(window, start=cursor.after or window.start),
            now=now,
            local_hours=hours,
            max_slots=cursor.offset + size + 1,
            budget=self._budget(wanted),
        )
        found = found[_sent_before(found, cursor) :]
        page, following = found[:size], ""
        if len(found) > size:
            after = found[size].start
            sent = sum(1 for s in page if s.start == after)
            following = self._tokens.issue(
                Cursor(offset=sent, window=window, after=after), query=bound, now=now
            )
        return SlotList(
            supplier=supplier,
            zone=state_at(user_zone, at=now),
            slots=page,
            window=window,
            next_page_token=following,
            days=by_user_day(page) if request.by_user_day else None,
            user=user if isinstance(user, UserLocation) else None,
        )

    def check_slots(self, slot_ids: Sequence[str]) -> list[SlotCheck]:
        """Exactly one answer per slot id, in order: may each still be booked?"""
        queries.slot_ids(slot_ids, most=self._limits.max_slot_checks, field="slot_ids")
        return self._catalog().check(slot_ids, now=self._clock())

    def _budget(self, wanted: Callable[[], bool]) -> Budget:
        """The work one call may do, and how it asks whether its caller is still there."""
        return Budget(
            candidates=self._limits.max_candidates,
            slots=self._limits.max_expanded_slots,
            wanted=wanted,
        )

    def filter_values(self) -> FilterValues:
        """What the specialty and language filters can find in the catalogue serving now."""
        counts = self._catalog().filter_counts()
        return FilterValues(
            specialties=_labelled(counts.specialties, specialties()),
            languages=_labelled(counts.languages, languages()),
        )

    def _locate(self, location: LocationInput, *, radius_km: float | None = None) -> UserLocation:
        """The user's coarse place; an IP address's accuracy is weighed against ``radius_km``.

        At DEBUG, logs where the zone came from and how accurately: never where, nor what was sent.
        """
        user = queries.locate(
            location,
            resolver=self._resolver,
            limits=self._limits,
            field="location",
            geoip=self._geoip,
            radius_km=radius_km,
        )
        if log.isEnabledFor(logging.DEBUG):
            accuracy = None if user.ip is None else user.ip.accuracy_km
            log.debug(
                "location resolved: zone from %s, accuracy %s km",
                user.zone_source.value,
                "unstated" if accuracy is None else f"{accuracy:g}",
            )
        return user

    def _user(self, request: ListSlotsInput) -> UserLocation | str:
        """Whom to render for: a zone given outright, or a location and the zone it resolves to."""
        if request.timezone is not None:
            return queries.timezone(request.timezone, field="timezone")
        if request.location is not None:
            return self._locate(request.location)
        raise queries.missing(field="user", what="a location or a timezone")


def _labelled(counts: Mapping[str, int], vocabulary: Vocabulary) -> list[FilterValue]:
    """Counted values with their labels, most suppliers first, then by value."""
    return [
        FilterValue(value=value, label=vocabulary.labels.get(value, value), suppliers=n)
        for value, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def _sent_before(found: Sequence[RenderedSlot], cursor: Cursor) -> int:
    """How many leading slots a previous page sent: those at the cursor's instant, at most its
    offset."""
    sent = 0
    while sent < min(cursor.offset, len(found)) and found[sent].start == cursor.after:
        sent += 1
    return sent


class Administration:
    """The operator's use cases: reloading the feed or the GeoIP database, status, updates."""

    def __init__(
        self,
        *,
        replica: Replica,
        limits: Limits,
        clock: Callable[[], datetime],
        geoip: GeoipResolver | None = None,
    ) -> None:
        self._replica = replica
        self._limits = limits
        self._clock = clock
        self._geoip = geoip

    def reload(self, request: ReloadInput | None = None, *, how: str = "ReloadFeeds") -> Snapshot:
        """Validates the feed and makes it the generation every process serves; FeedRejected,
        and no change anywhere, if it is refused."""
        request = request or ReloadInput()
        source = queries.feed_source(request.source, field="source")
        note = queries.note(request.requested_by, limits=self._limits, field="requested_by")
        asked = f"{how} on {self._replica.who}" + (f", asked by {note}" if note else "")
        return self._replica.reload(source=source, requested_by=asked)

    def reload_logged(self, *, how: str) -> None:
        """Reloads and logs the outcome rather than raising: for SIGHUP, where no caller waits."""
        try:
            fresh = self.reload(how=how)
        except (FeedRejected, Unavailable) as exc:
            reload_log.error("reload refused, still serving the previous feed: %s", exc)
            return
        reload_log.info(
            "reloaded %d suppliers from %s in %.1f s",
            len(fresh.catalog),
            fresh.feed.path,
            fresh.load_seconds,
        )

    def status(self) -> ServingStatus:
        """The feed serving, the last refused reload since and where this process is in the
        store; the GeoIP database serving."""
        return ServingStatus(
            feed=self._replica.status(), geoip=None if self._geoip is None else self._geoip.info
        )

    def reload_geoip(self) -> DatabaseInfo:
        """Re-opens the GeoIP database file and swaps it in whole.

        Raises GeoipNotConfigured without one, and GeoipReloadRefused (the file serving before
        goes on serving) for a file that cannot be opened or is not a City or Country database.
        """
        if self._geoip is None:
            raise GeoipNotConfigured(how=how_to_set("geoip_db"))
        try:
            return self._geoip.reload()
        except GeoipDatabaseError as exc:
            raise GeoipReloadRefused(path=exc.path, reason=exc.reason) from None

    def reload_geoip_logged(self) -> None:
        """Reloads the GeoIP database, if there is one, and logs the outcome rather than
        raising: for SIGHUP, where no caller waits."""
        if self._geoip is None:
            return
        try:
            info = self.reload_geoip()
        except GeoipReloadRefused as exc:
            reload_log.error("GeoIP reload refused, still serving the database before: %s", exc)
            return
        reload_log.info("reloaded GeoIP database %s", info.summary())

    def update(self, request: UpdateInput) -> UpdateOutcome:
        """Makes an update durable in the store, then (unless asked not to wait) waits until
        this process serves it; a retry of a recorded one changes nothing."""
        change = queries.update(
            update_id=request.update_id,
            supplier_id=request.supplier_id,
            requested=request.window,
            slots=request.slots,
            received_at=self._clock(),
            limits=self._limits,
        )
        accepted = self._replica.update(change, wait=request.wait_applied)
        entry = accepted.recorded.entry
        return UpdateOutcome(
            update=entry.update,
            applied=accepted.recorded.new,
            sequence=entry.seq,
            served=accepted.served,
        )
