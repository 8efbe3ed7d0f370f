"""Protobuf messages to the service's typed inputs and domain answers back; nothing decides here."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from matcher.errors import FeedError, InvalidArgument
from matcher.feeds import Feed
from matcher.geo.geoip import DatabaseInfo
from matcher.instants import EPOCH
from matcher.model import (
    Match,
    Modality,
    Order,
    Point,
    RenderedSlot,
    SlotCheck,
    SlotStatus,
    Supplier,
    UserLocation,
    Window,
    ZoneSource,
    ZoneState,
)
from matcher.queries import HoursInput, LocationInput, SlotInput, WindowInput
from matcher.service import (
    FilterValue,
    FilterValues,
    ListSlotsInput,
    MatchInput,
    MatchPage,
    ReloadInput,
    ResolvedZone,
    ServingStatus,
    SlotList,
    UpdateInput,
    UpdateOutcome,
)
from matcher.serving.holder import Snapshot
from matcher.serving.replica import Refusal, Replication
from matcher.serving.sources import shown
from matcher.serving.store import Generation
from matcher_api import wire
from matcher_api.v1 import feed_admin_pb2 as admin_pb
from matcher_api.v1 import matcher_pb2 as pb

MODALITY_TO_PB = {
    Modality.IN_PERSON: pb.MODALITY_IN_PERSON,
    Modality.HOME_VISIT: pb.MODALITY_HOME_VISIT,
    Modality.REMOTE: pb.MODALITY_REMOTE,
}
MODALITY_FROM_PB: dict[int, Modality] = {v: k for k, v in MODALITY_TO_PB.items()}
ORDER_FROM_PB: dict[int, Order] = {
    pb.ORDER_UNSPECIFIED: Order.BY_DISTANCE,
    pb.ORDER_BY_DISTANCE: Order.BY_DISTANCE,
    pb.ORDER_BY_EARLIEST_SLOT: Order.BY_EARLIEST_SLOT,
}
#: Each domain zone source by its wire name, which carries the enum's prefix.
ZONE_SOURCE_TO_PB: dict[ZoneSource, str] = {z: f"ZONE_SOURCE_{z.name}" for z in ZoneSource}
#: Each domain slot status by its wire name, which carries the enum's prefix.
SLOT_STATUS_TO_PB: dict[SlotStatus, str] = {s: f"SLOT_STATUS_{s.name}" for s in SlotStatus}
#: Problems a feed status lists; its counts always cover them all.
MAX_LISTED_PROBLEMS = 100


# Requests in


def location(message: pb.Location) -> LocationInput:
    """The one form of location a request carries."""
    kind = message.WhichOneof("kind")
    if kind == "point":
        return LocationInput(lat_lng=(message.point.lat, message.point.lng))
    if kind == "geohash":
        return LocationInput(geohash=message.geohash)
    if kind == "country_code":
        return LocationInput(country_code=message.country_code)
    if kind == "ip_address":
        return LocationInput(ip_address=message.ip_address)
    return LocationInput()


def modalities(values: Iterable[int], *, field: str) -> frozenset[Modality]:
    """Requested modalities (none means all, decided by the service)."""
    chosen = set()
    for k, value in enumerate(values):
        if value not in MODALITY_FROM_PB:
            raise InvalidArgument.of(
                f"{field}[{k}]",
                "must be MODALITY_IN_PERSON, MODALITY_HOME_VISIT or MODALITY_REMOTE",
            )
        chosen.add(MODALITY_FROM_PB[value])
    return frozenset(chosen)


def order(value: int, *, field: str) -> Order:
    """The requested ranking."""
    if value not in ORDER_FROM_PB:
        raise InvalidArgument.of(field, "must be ORDER_BY_DISTANCE or ORDER_BY_EARLIEST_SLOT")
    return ORDER_FROM_PB[value]


def instant(message: Timestamp, *, field: str) -> datetime:
    """A Timestamp as an aware UTC datetime."""
    try:
        return message.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidArgument.of(field, "is not a valid timestamp") from None


def window(message: pb.TimeWindow, *, field: str) -> WindowInput:
    """A requested window; either end may be unset."""
    return WindowInput(
        start=instant(message.start, field=f"{field}.start") if message.HasField("start") else None,
        end=instant(message.end, field=f"{field}.end") if message.HasField("end") else None,
    )


def hours(request: pb.MatchRequest | pb.ListSlotsRequest) -> HoursInput | None:
    """Requested local hours, if any."""
    if not request.HasField("local_hours"):
        return None
    return HoursInput(start=request.local_hours.start, end=request.local_hours.end)


def match_input(request: pb.MatchRequest) -> MatchInput:
    """A Match request as the service's input."""
    return MatchInput(
        location=location(request.location),
        radius_km=request.radius_km,
        specialties=tuple(request.specialties),
        languages=tuple(request.languages),
        modalities=modalities(request.modalities, field="modalities"),
        window=window(request.window, field="window"),
        local_hours=hours(request),
        page_size=request.page_size,
        page_token=request.page_token,
        max_slots_per_supplier=request.max_slots_per_supplier,
        order=order(request.order, field="order"),
    )


def list_slots_input(request: pb.ListSlotsRequest) -> ListSlotsInput:
    """A ListSlots request as the service's input."""
    kind = request.WhichOneof("user")
    return ListSlotsInput(
        supplier_id=request.supplier_id,
        location=location(request.location) if kind == "location" else None,
        timezone=request.timezone if kind == "timezone" else None,
        window=window(request.window, field="window"),
        local_hours=hours(request),
        page_size=request.page_size,
        page_token=request.page_token,
        by_user_day=request.group_by_user_day,
    )


def update_input(request: admin_pb.UpdateAvailabilityRequest) -> UpdateInput:
    """An UpdateAvailability request as the service's input."""
    return UpdateInput(
        update_id=request.update_id,
        supplier_id=request.supplier_id,
        window=window(request.window, field="window"),
        slots=[
            SlotInput(
                start=instant(s.start, field=f"slots[{k}].start") if s.HasField("start") else None,
                minutes=s.minutes,
            )
            for k, s in enumerate(request.slots)
        ],
        wait_applied=request.wait_applied if request.HasField("wait_applied") else True,
    )


def reload_input(request: admin_pb.ReloadFeedsRequest) -> ReloadInput:
    """A ReloadFeeds request as the service's input."""
    return ReloadInput(source=request.source, requested_by=request.requested_by)


# Answers out


def timestamp(value: datetime) -> Timestamp:
    """An aware datetime as a Timestamp, by arithmetic: FromDatetime costs ~10 µs in Python."""
    elapsed = value - EPOCH
    return Timestamp(
        seconds=elapsed.days * 86_400 + elapsed.seconds, nanos=elapsed.microseconds * 1000
    )


def lat_lng(p: Point) -> pb.LatLng:
    """A domain point as a message."""
    return pb.LatLng(lat=p.lat, lng=p.lng)


def zone_state(state: ZoneState) -> pb.ZoneState:
    """A zone's state as a message."""
    return pb.ZoneState(
        zone=state.zone,
        utc_offset_seconds=state.utc_offset_seconds,
        dst=state.dst,
        abbreviation=state.abbreviation,
    )


def time_window(w: Window) -> pb.TimeWindow:
    """A domain window as a message."""
    return pb.TimeWindow(start=timestamp(w.start), end=timestamp(w.end))


def supplier(s: Supplier) -> pb.Supplier:
    """A supplier as a message."""
    return pb.Supplier(
        id=s.id,
        name=s.name,
        specialties=s.specialties,
        languages=s.languages,
        modalities=sorted(MODALITY_TO_PB[m] for m in s.modalities),
        timezone=s.timezone,
        location=lat_lng(s.location),
    )


def slot(r: RenderedSlot) -> pb.Slot:
    """A rendered slot as a message."""
    return pb.Slot(
        slot_id=r.slot_id,
        start=timestamp(r.start),
        end=timestamp(r.end),
        user_local_start=r.user_local_start,
        supplier_local_start=r.supplier_local_start,
        user_local_end=r.user_local_end,
        supplier_local_end=r.supplier_local_end,
        offset_difference_minutes=r.offset_difference_minutes,
        day_shift=r.day_shift,
        spots_total=r.spots_total,
        spots_open=r.spots_open,
    )


def _matched(m: Match) -> bytes:
    """The modalities a match met, as a packed ``SupplierMatch.matched_modalities`` field."""
    found = _MATCHED.get(m.modalities)
    if found is None:
        codes = sorted(MODALITY_TO_PB[x] for x in m.modalities)
        found = _MATCHED[m.modalities] = wire.packed(3, codes)
    return found


_MATCHED: dict[frozenset[Modality], bytes] = {}


#: Suppliers' messages, serialized once each while they are answered often.
_supplier_bytes = wire.supplier_field(lambda s: supplier(s).SerializeToString())


def match(m: Match) -> pb.SupplierMatch:
    """A match as a message."""
    return pb.SupplierMatch(
        supplier=supplier(m.supplier),
        distance_km=round(m.distance_km, 3),
        matched_modalities=sorted(MODALITY_TO_PB[x] for x in m.modalities),
        slots=[slot(s) for s in m.slots],
    )


def zone_origin(user: UserLocation | None) -> pb.ZoneOrigin:
    """Where a user's zone came from (a point, a country and its share, an IP address and how
    accurately placed), or that it was given outright."""
    if user is None:
        return pb.ZoneOrigin(source=pb.ZONE_SOURCE_TIMEZONE)
    origin = pb.ZoneOrigin(source=ZONE_SOURCE_TO_PB[user.zone_source])
    if user.country is not None:
        origin.country_code = user.country.country_code
        origin.population_share = user.country.population_share
    if user.ip is not None:
        origin.country_code = user.ip.country_code or ""
        origin.accuracy_km = user.ip.accuracy_km or 0.0
    return origin


def resolved_zone(answer: ResolvedZone) -> pb.ResolveTimezoneResponse:
    """A resolved zone as a response."""
    response = pb.ResolveTimezoneResponse(
        timezone=zone_state(answer.zone), zone_origin=zone_origin(answer.user)
    )
    if answer.user.point is not None:
        response.coarse_location.CopyFrom(lat_lng(answer.user.point))
    return response


def match_page(page: MatchPage) -> pb.MatchResponse:
    """A page of matches as a response: the matches written in bulk (``wire``), the rest
    field by field."""
    response = pb.MatchResponse(
        user_timezone=zone_state(page.zone),
        window=time_window(page.window),
        next_page_token=page.next_page_token,
        zone_origin=zone_origin(page.user),
    )
    response.MergeFromString(
        wire.matches_bytes(
            page.matches,
            supplier=_supplier_bytes,
            modalities=_matched,
            slot=lambda r: slot(r).SerializeToString(),
        )
    )
    if page.user.point is not None:
        response.coarse_location.CopyFrom(lat_lng(page.user.point))
    return response


def slot_list(answer: SlotList) -> pb.ListSlotsResponse:
    """A page of a supplier's slots as a response: flat, or by the user's day if asked."""
    response = pb.ListSlotsResponse(
        supplier=supplier(answer.supplier),
        user_timezone=zone_state(answer.zone),
        window=time_window(answer.window),
        next_page_token=answer.next_page_token,
        zone_origin=zone_origin(answer.user),
    )
    if answer.days is None:
        response.slots.extend(slot(s) for s in answer.slots)
    else:
        response.days.extend(
            pb.SlotDay(date=d.day.isoformat(), slots=[slot(s) for s in d.slots])
            for d in answer.days
        )
    return response


def slot_checks(checks: Iterable[SlotCheck]) -> pb.CheckSlotsResponse:
    """Slot checks as a response."""
    return pb.CheckSlotsResponse(
        results=[
            pb.SlotCheck(
                slot_id=c.slot_id,
                bookable=c.bookable,
                status=SLOT_STATUS_TO_PB[c.status],
                reason=c.reason,
            )
            for c in checks
        ]
    )


def filter_values(values: FilterValues) -> pb.ListFilterValuesResponse:
    """The catalogue's filter values as a response."""

    def listed(found: Iterable[FilterValue]) -> list[pb.FilterValue]:
        return [pb.FilterValue(value=v.value, label=v.label, suppliers=v.suppliers) for v in found]

    return pb.ListFilterValuesResponse(
        specialties=listed(values.specialties), languages=listed(values.languages)
    )


def update_outcome(outcome: UpdateOutcome) -> admin_pb.UpdateAvailabilityResponse:
    """An update's outcome as a response."""
    return admin_pb.UpdateAvailabilityResponse(
        applied=outcome.applied,
        received_at=timestamp(outcome.update.received_at),
        sequence=outcome.sequence,
        served=outcome.served,
    )


def problems(errors: Iterable[FeedError]) -> list[admin_pb.FeedProblem]:
    """The first problems of a feed as messages."""
    listed = list(errors)[:MAX_LISTED_PROBLEMS]
    return [
        admin_pb.FeedProblem(path=e.path, line=e.line, field=e.field, reason=e.reason)
        for e in listed
    ]


def generation(recorded: Generation) -> admin_pb.Generation:
    """A feed generation as a message; a URL is shown without its query."""
    return admin_pb.Generation(
        number=recorded.number,
        source=shown(recorded.source),
        sha256=recorded.sha256,
        size=recorded.size,
        generated_at=timestamp(recorded.generated_at),
        requested_by=recorded.requested_by,
        requested_at=timestamp(recorded.requested_at),
    )


def loaded_feed(snapshot: Snapshot) -> admin_pb.LoadedFeed:
    """A serving snapshot as a message."""
    feed: Feed = snapshot.feed
    recorded = snapshot.generation
    return admin_pb.LoadedFeed(
        path=shown(recorded.source) if recorded else feed.path,
        format_version=feed.format_version,
        generated_at=timestamp(feed.generated_at),
        loaded_at=timestamp(snapshot.loaded_at),
        load_seconds=round(snapshot.load_seconds, 3),
        records=feed.records,
        suppliers=len(feed.suppliers),
        rejected_records=feed.rejected_records,
        rejected_share=feed.rejected_share,
        rejected=problems(feed.rejected),
        generation=generation(recorded) if recorded else None,
    )


def refusal(refused: Refusal) -> admin_pb.Refusal:
    """A refused reload as a message."""
    return admin_pb.Refusal(
        at=timestamp(refused.at),
        path=refused.path,
        reason=refused.summary,
        problems=len(refused.errors),
        first_problems=problems(refused.errors),
        generation=refused.generation,
    )


def replication(state: Replication) -> admin_pb.Replication:
    """This process's place in the store as a message."""
    current = state.store_generation
    return admin_pb.Replication(
        process=state.process,
        store=state.store,
        shared=state.shared,
        ready=state.ready,
        applied_sequence=state.applied,
        store_sequence=state.store_sequence,
        lag=state.lag,
        store_generation=generation(current) if current else None,
        store_reachable=state.reachable,
        store_error=state.store_error,
        store_checked_at=timestamp(state.checked_at) if state.checked_at else None,
    )


def serving_status(status: ServingStatus) -> admin_pb.GetFeedStatusResponse:
    """What is serving, the last refusal, the store and the GeoIP database, as a message."""
    feed = status.feed
    message = admin_pb.GetFeedStatusResponse(
        serving=loaded_feed(feed.serving),
        max_rejected_share=feed.max_rejected_share,
        replication=replication(feed.replication),
    )
    if feed.last_refusal is not None:
        message.last_refusal.CopyFrom(refusal(feed.last_refusal))
    if status.geoip is not None:
        message.geoip_database.CopyFrom(geoip_database(status.geoip))
    return message


def geoip_database(info: DatabaseInfo) -> admin_pb.GeoipDatabase:
    """A GeoIP database's metadata as a message."""
    return admin_pb.GeoipDatabase(
        path=info.path,
        database_type=info.database_type,
        ip_version=info.ip_version,
        built_at=timestamp(info.built),
    )
