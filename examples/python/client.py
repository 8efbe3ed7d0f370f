"""A Python client of matcher.v1: Match, CheckSlots on the first slot, and an error's ErrorInfo.

It uses the stubs ``make gen`` generates from proto/ (``matcher_api.v1``) and grpcio-status to
read the google.rpc.Status every error carries. From the repository root, with the server of
``make run`` going:

    .venv/bin/python examples/python/client.py [host:port]      (default localhost:50051)

It prints one JSON object a step on stdout; tests/e2e/test_examples.py runs it.
"""

from __future__ import annotations

import json
import sys

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from matcher_api.v1 import matcher_pb2 as pb
from matcher_api.v1 import matcher_pb2_grpc as pb_grpc

DEADLINE_S = 10.0


def error_details(error: grpc.RpcError) -> tuple[error_details_pb2.ErrorInfo, list[str]]:
    """A failed call's ErrorInfo and the fields its BadRequest names."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    info, fields = error_details_pb2.ErrorInfo(), list[str]()
    for detail in status.details if status else ():
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            fields.extend(v.field for v in bad.field_violations)
        else:
            detail.Unpack(info)
    return info, fields


def main(address: str) -> None:
    """Runs the three steps against ``address`` and prints what each got."""
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.MatcherServiceStub(channel)  # type: ignore[no-untyped-call]
        found = stub.Match(
            pb.MatchRequest(
                location=pb.Location(point=pb.LatLng(lat=34.05, lng=-118.25)),
                modalities=[pb.MODALITY_IN_PERSON],
                page_size=3,
                max_slots_per_supplier=1,
            ),
            timeout=DEADLINE_S,
        )
        slot = found.matches[0].slots[0]
        print(
            json.dumps(
                {
                    "step": "Match",
                    "user_timezone": found.user_timezone.zone,
                    "suppliers": [m.supplier.id for m in found.matches],
                    "slot_id": slot.slot_id,
                    "user_local_start": slot.user_local_start,
                    "user_local_end": slot.user_local_end,
                }
            )
        )
        checked = stub.CheckSlots(pb.CheckSlotsRequest(slot_ids=[slot.slot_id]), timeout=DEADLINE_S)
        status = pb.SlotStatus.Name(checked.results[0].status)
        print(json.dumps({"step": "CheckSlots", "status": status}))
        try:
            stub.Match(
                pb.MatchRequest(location=pb.Location(point=pb.LatLng(lat=95, lng=0))),
                timeout=DEADLINE_S,
            )
        except grpc.RpcError as error:
            info, fields = error_details(error)
            print(
                json.dumps(
                    {
                        "step": "invalid Match",
                        "code": error.code().name,
                        "domain": info.domain,
                        "reason": info.reason,
                        "fields": fields,
                    }
                )
            )
        else:
            raise SystemExit("a latitude of 95 was accepted")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "localhost:50051")
