"""MatcherService: converts each request to domain calls and the answers back, nothing more."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import grpc

from matcher import queries
from matcher.catalog import Catalog, MatchQuery
from matcher.errors import InvalidArgument
from matcher.paging import Cursor, PageTokens, fingerprint
from matcher.queries import Limits, UserLocation
from matcher.slots import LocalHours, Window
from matcher.timezones import TimezoneResolver, state_at, zone_or_invalid
from matcher.v1 import matcher_pb2 as pb
from matcher.v1 import matcher_pb2_grpc as pb_grpc
from matcher_api import convert
from matcher_api.status import translated


def utc_now() -> datetime:
    """The current instant; injected so tests can pin it."""
    return datetime.now(UTC)


@dataclass
class Deps:
    """What the servicer needs, built once at start-up and injected."""

    catalog: Callable[[], Catalog]  # the catalogue serving right now (feeds may swap it)
    resolver: TimezoneResolver
    tokens: PageTokens
    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], datetime] = utc_now


class MatcherServicer(pb_grpc.MatcherServiceServicer):
    """The public API, one method per RPC."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    def _locate(self, location: pb.Location, *, field: str = "location") -> UserLocation:
        return queries.locate(
            resolver=self._deps.resolver,
            limits=self._deps.limits,
            field=field,
            **convert.location_fields(location),
        )

    def _window(self, request: pb.MatchRequest | pb.ListSlotsRequest, *, now: datetime) -> Window:
        return queries.window(
            convert.instant(request.window, "start", field="window"),
            convert.instant(request.window, "end", field="window"),
            now=now,
            limits=self._deps.limits,
        )

    @staticmethod
    def _hours(request: pb.MatchRequest | pb.ListSlotsRequest) -> LocalHours | None:
        if not request.HasField("local_hours"):
            return None
        return queries.local_hours(request.local_hours.start, request.local_hours.end)

    @translated
    def ResolveTimezone(
        self, request: pb.ResolveTimezoneRequest, context: grpc.ServicerContext
    ) -> pb.ResolveTimezoneResponse:
        user = self._locate(request.location)
        response = pb.ResolveTimezoneResponse(
            timezone=convert.zone_state(state_at(user.zone, at=self._deps.clock()))
        )
        if user.point is not None:
            response.coarse_location.CopyFrom(convert.lat_lng(user.point))
        return response

    @translated
    def Match(self, request: pb.MatchRequest, context: grpc.ServicerContext) -> pb.MatchResponse:
        limits, now = self._deps.limits, self._deps.clock()
        user = self._locate(request.location)
        page_size = queries.count(
            request.page_size,
            default=limits.default_page_size,
            most=limits.max_page_size,
            field="page_size",
        )
        query = MatchQuery(
            point=user.point,
            user_zone=user.zone,
            window=self._window(request, now=now),
            radius_km=queries.radius(request.radius_km, limits=limits),
            specialties=frozenset(request.specialties),
            languages=frozenset(request.languages),
            modalities=convert.modalities(request.modalities),
            local_hours=self._hours(request),
            max_slots=queries.count(
                request.max_slots_per_supplier,
                default=limits.default_slots,
                most=limits.max_slots,
                field="max_slots_per_supplier",
            ),
            order=convert.order(request.order),
        )
        bound = fingerprint(query.key(), request.window.SerializeToString())
        cursor = Cursor(offset=0, window=query.window)
        if request.page_token:
            cursor = self._deps.tokens.read(request.page_token, query=bound, now=now)
            query = replace(query, window=cursor.window)
        end = cursor.offset + page_size
        matches = self._deps.catalog().match(
            query, now=now, limit=end + 1, wanted=context.is_active
        )
        page = matches[cursor.offset : end]
        response = pb.MatchResponse(
            user_timezone=convert.zone_state(state_at(user.zone, at=now)),
            matches=[convert.match(m) for m in page],
            window=convert.time_window(query.window),
        )
        if user.point is not None:
            response.coarse_location.CopyFrom(convert.lat_lng(user.point))
        if len(matches) > end:
            following = Cursor(offset=end, window=query.window)
            response.next_page_token = self._deps.tokens.issue(following, query=bound, now=now)
        return response

    @translated
    def GetSupplier(
        self, request: pb.GetSupplierRequest, context: grpc.ServicerContext
    ) -> pb.Supplier:
        if not request.supplier_id:
            raise InvalidArgument.of("supplier_id", "is required")
        return convert.supplier(self._deps.catalog().supplier(request.supplier_id))

    @translated
    def ListSlots(
        self, request: pb.ListSlotsRequest, context: grpc.ServicerContext
    ) -> pb.ListSlotsResponse:
        limits, now = self._deps.limits, self._deps.clock()
        if not request.supplier_id:
            raise InvalidArgument.of("supplier_id", "is required")
        user_zone = self._user_zone(request)
        window = self._window(request, now=now)
        supplier, found = self._deps.catalog().slots_for(
            request.supplier_id,
            user_zone=user_zone,
            window=window,
            now=now,
            local_hours=self._hours(request),
            max_slots=queries.count(
                request.max_slots,
                default=limits.default_listed_slots,
                most=limits.max_listed_slots,
                field="max_slots",
            ),
        )
        return pb.ListSlotsResponse(
            supplier=convert.supplier(supplier),
            user_timezone=convert.zone_state(state_at(user_zone, at=now)),
            slots=[convert.slot(s) for s in found],
            window=convert.time_window(window),
        )

    def _user_zone(self, request: pb.ListSlotsRequest) -> str:
        """The zone to render in: given outright, or resolved from a location."""
        kind = request.WhichOneof("user")
        if kind == "timezone":
            zone_or_invalid(request.timezone, field="timezone")
            return request.timezone
        if kind == "location":
            return self._locate(request.location).zone
        raise InvalidArgument.of("user", "is required: a location or a timezone")

    @translated
    def CheckSlots(
        self, request: pb.CheckSlotsRequest, context: grpc.ServicerContext
    ) -> pb.CheckSlotsResponse:
        most = self._deps.limits.max_slot_checks
        if not request.slot_ids:
            raise InvalidArgument.of("slot_ids", "must hold at least one slot id")
        if len(request.slot_ids) > most:
            raise InvalidArgument.of("slot_ids", f"must hold at most {most} slot ids")
        checks = self._deps.catalog().check(list(request.slot_ids), now=self._deps.clock())
        return pb.CheckSlotsResponse(results=[convert.slot_check(c) for c in checks])
