"""MatcherService: each RPC converts its request, calls one use case and converts the answer."""

from __future__ import annotations

import grpc

from matcher.service import Matching
from matcher_api import convert
from matcher_api.fairness import pacing
from matcher_api.status import translated
from matcher_api.v1 import matcher_pb2 as pb
from matcher_api.v1 import matcher_pb2_grpc as pb_grpc


class MatcherServicer(pb_grpc.MatcherServiceServicer):
    """The public API, one method per RPC."""

    def __init__(self, matching: Matching) -> None:
        self._matching = matching

    @translated
    def ResolveTimezone(
        self, request: pb.ResolveTimezoneRequest, context: grpc.ServicerContext
    ) -> pb.ResolveTimezoneResponse:
        answer = self._matching.resolve_timezone(convert.location(request.location))
        return convert.resolved_zone(answer)

    @translated
    def Match(self, request: pb.MatchRequest, context: grpc.ServicerContext) -> pb.MatchResponse:
        page = self._matching.match(convert.match_input(request), wanted=pacing(context.is_active))
        return convert.match_page(page)

    @translated
    def GetSupplier(
        self, request: pb.GetSupplierRequest, context: grpc.ServicerContext
    ) -> pb.GetSupplierResponse:
        supplier = self._matching.get_supplier(request.supplier_id)
        return pb.GetSupplierResponse(supplier=convert.supplier(supplier))

    @translated
    def ListSlots(
        self, request: pb.ListSlotsRequest, context: grpc.ServicerContext
    ) -> pb.ListSlotsResponse:
        found = self._matching.list_slots(
            convert.list_slots_input(request), wanted=pacing(context.is_active)
        )
        return convert.slot_list(found)

    @translated
    def CheckSlots(
        self, request: pb.CheckSlotsRequest, context: grpc.ServicerContext
    ) -> pb.CheckSlotsResponse:
        return convert.slot_checks(self._matching.check_slots(list(request.slot_ids)))

    @translated
    def ListFilterValues(
        self, request: pb.ListFilterValuesRequest, context: grpc.ServicerContext
    ) -> pb.ListFilterValuesResponse:
        return convert.filter_values(self._matching.filter_values())
