"""FeedAdmin: hot reloads and feed status, converted to and from messages, nothing more."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import grpc

from matcher import updates
from matcher.errors import FeedError
from matcher.reload import CatalogHolder, Refusal, Snapshot
from matcher.v1 import feed_admin_pb2 as pb
from matcher.v1 import feed_admin_pb2_grpc as pb_grpc
from matcher_api import convert
from matcher_api.status import translated

#: Problems listed in a status; the counts always cover them all.
MAX_LISTED_PROBLEMS = 100


class FeedAdminServicer(pb_grpc.FeedAdminServicer):
    """The operator API over one catalogue holder."""

    def __init__(self, holder: CatalogHolder, *, clock: Callable[[], datetime]) -> None:
        self._holder = holder
        self._clock = clock

    @translated
    def ReloadFeeds(
        self, request: pb.ReloadFeedsRequest, context: grpc.ServicerContext
    ) -> pb.ReloadFeedsResponse:
        return pb.ReloadFeedsResponse(serving=loaded_feed(self._holder.reload()))

    @translated
    def UpdateAvailability(
        self, request: pb.UpdateAvailabilityRequest, context: grpc.ServicerContext
    ) -> pb.UpdateAvailabilityResponse:
        change = updates.update(
            update_id=request.update_id,
            supplier_id=request.supplier_id,
            start=convert.instant(request.window, "start", field="window"),
            end=convert.instant(request.window, "end", field="window"),
            slots=[
                (convert.instant(s, "start", field=f"slots[{k}]"), s.minutes)
                for k, s in enumerate(request.slots)
            ],
            received_at=self._clock(),
        )
        recorded = self._holder.update(change)
        return pb.UpdateAvailabilityResponse(
            applied=recorded is change, received_at=convert.timestamp(recorded.received_at)
        )

    @translated
    def GetFeedStatus(
        self, request: pb.GetFeedStatusRequest, context: grpc.ServicerContext
    ) -> pb.FeedStatus:
        status = self._holder.status()
        message = pb.FeedStatus(
            serving=loaded_feed(status.serving),
            max_rejected_share=self._holder.max_rejected_share,
        )
        if status.last_refusal is not None:
            message.last_refusal.CopyFrom(refusal(status.last_refusal))
        return message


def problems(errors: Sequence[FeedError]) -> list[pb.FeedProblem]:
    """The first problems of a feed as messages."""
    return [
        pb.FeedProblem(path=e.path, line=e.line, field=e.field, reason=e.reason)
        for e in errors[:MAX_LISTED_PROBLEMS]
    ]


def loaded_feed(snapshot: Snapshot) -> pb.LoadedFeed:
    """A serving snapshot as a message."""
    feed = snapshot.feed
    return pb.LoadedFeed(
        path=feed.path,
        format_version=feed.format_version,
        generated_at=convert.timestamp(feed.generated_at),
        loaded_at=convert.timestamp(snapshot.loaded_at),
        load_seconds=round(snapshot.load_seconds, 3),
        records=feed.records,
        suppliers=len(feed.suppliers),
        rejected_records=feed.rejected_records,
        rejected_share=feed.rejected_share,
        rejected=problems(feed.rejected),
    )


def refusal(refused: Refusal) -> pb.Refusal:
    """A refused reload as a message."""
    return pb.Refusal(
        at=convert.timestamp(refused.at),
        path=refused.path,
        reason=refused.summary,
        problems=len(refused.errors),
        first_problems=problems(refused.errors),
    )
