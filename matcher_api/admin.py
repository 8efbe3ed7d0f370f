"""FeedAdminService: each RPC converts its request, calls one use case and converts the answer."""

from __future__ import annotations

import grpc

from matcher.service import Administration
from matcher_api import convert
from matcher_api.status import translated
from matcher_api.v1 import feed_admin_pb2 as pb
from matcher_api.v1 import feed_admin_pb2_grpc as pb_grpc


class FeedAdminServicer(pb_grpc.FeedAdminServiceServicer):
    """The operator API, one method per RPC."""

    def __init__(self, administration: Administration) -> None:
        self._administration = administration

    @translated
    def ReloadFeeds(
        self, request: pb.ReloadFeedsRequest, context: grpc.ServicerContext
    ) -> pb.ReloadFeedsResponse:
        snapshot = self._administration.reload(convert.reload_input(request))
        return pb.ReloadFeedsResponse(serving=convert.loaded_feed(snapshot))

    @translated
    def UpdateAvailability(
        self, request: pb.UpdateAvailabilityRequest, context: grpc.ServicerContext
    ) -> pb.UpdateAvailabilityResponse:
        outcome = self._administration.update(convert.update_input(request))
        return convert.update_outcome(outcome)

    @translated
    def GetFeedStatus(
        self, request: pb.GetFeedStatusRequest, context: grpc.ServicerContext
    ) -> pb.GetFeedStatusResponse:
        return convert.serving_status(self._administration.status())

    @translated
    def ReloadGeoipDatabase(
        self, request: pb.ReloadGeoipDatabaseRequest, context: grpc.ServicerContext
    ) -> pb.ReloadGeoipDatabaseResponse:
        info = self._administration.reload_geoip()
        return pb.ReloadGeoipDatabaseResponse(serving=convert.geoip_database(info))
