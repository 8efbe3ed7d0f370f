"""Small builders and readers shared by the integration tests."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from matcher_api.v1 import matcher_pb2 as pb


def stamp(value: str | datetime) -> Timestamp:
    """A Timestamp from an RFC 3339 string or an aware datetime."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    result = Timestamp()
    result.FromDatetime(moment.astimezone(UTC))
    return result


def window(start: str | datetime, end: str | datetime) -> pb.TimeWindow:
    return pb.TimeWindow(start=stamp(start), end=stamp(end))


def point(lat: float, lng: float) -> pb.Location:
    return pb.Location(point=pb.LatLng(lat=lat, lng=lng))


def match(stub, where: tuple[float, float], **fields) -> pb.MatchResponse:
    """Calls Match at a (lat, lng) with any other request fields."""
    return stub.Match(pb.MatchRequest(location=point(*where), **fields), timeout=10)


def at(slot: pb.Slot) -> datetime:
    """A slot's start instant."""
    return slot.start.ToDatetime(tzinfo=UTC)


def local_time(rfc3339: str) -> str:
    """The HH:MM of an RFC 3339 local time."""
    return rfc3339[11:16]


def bad_fields(error: BaseException) -> list[str]:
    """The fields an INVALID_ARGUMENT's google.rpc.BadRequest names; fails on any other status."""
    assert isinstance(error, grpc.RpcError), error
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
    status = rpc_status.from_call(error)
    assert status is not None
    fields = []
    for detail in status.details:
        request = error_details_pb2.BadRequest()
        if detail.Unpack(request):
            fields.extend(v.field for v in request.field_violations)
    assert error_info(error).reason, status
    return fields


def error_info(error: BaseException) -> error_details_pb2.ErrorInfo:
    """The google.rpc.ErrorInfo every error of the service carries first; fails without one."""
    assert isinstance(error, grpc.RpcError), error
    status = rpc_status.from_call(error)
    assert status is not None and status.details, (error.code(), error.details())
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info), status.details[0].type_url
    assert info.domain == "matcher.v1", info
    return info
