"""Reads and updates against matcher-server processes from a process of their own.

The test process must not be calling into gRPC when it forks (to restart PostgreSQL, say): a
fork while gRPC's threads hold its locks can crash the child before it execs. So the load runs
in a spawned process, and reports back through queues.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.queues import Queue
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from matcher_api.v1 import feed_admin_pb2 as admin_pb
from matcher_api.v1 import feed_admin_pb2_grpc as admin_grpc
from matcher_api.v1 import matcher_pb2 as pb
from matcher_api.v1 import matcher_pb2_grpc as pb_grpc

#: How long one update is retried (same id) before the load gives up on the store.
PATIENCE_S = 60.0


def stamp(instant: datetime) -> Timestamp:
    message = Timestamp()
    message.FromDatetime(instant)
    return message


def update(k: int, *, day: datetime, prefix: str) -> admin_pb.UpdateAvailabilityRequest:
    """Update k: london-gp offers one 20-minute slot in the k-th hour from ``day``, only that."""
    start = day + timedelta(hours=k)
    return admin_pb.UpdateAvailabilityRequest(
        update_id=f"{prefix}-{k}",
        supplier_id="london-gp",
        window=pb.TimeWindow(start=stamp(start), end=stamp(start + timedelta(hours=1))),
        slots=[admin_pb.NewSlot(start=stamp(start), minutes=20)],
    )


def run(
    addresses: list[str],
    *,
    day: datetime,
    prefix: str,
    count: int,
    pause_s: float,
    progress: Queue[int],
    results: Queue[dict[str, Any]],
) -> None:
    """Reads from every address in two threads each while ``count`` updates go out, each
    retried with its id until acknowledged; reports each acknowledgement, then the totals."""
    channels = [grpc.insecure_channel(a) for a in addresses]
    stop = threading.Event()
    failures: list[str] = []
    reads = [0]

    def read(channel: grpc.Channel) -> None:
        stub = pb_grpc.MatcherServiceStub(channel)
        where = pb.Location(point=pb.LatLng(lat=51.51, lng=-0.13))
        window = pb.TimeWindow(start=stamp(day), end=stamp(day + timedelta(days=2)))
        while not stop.is_set():
            try:
                stub.ListSlots(
                    pb.ListSlotsRequest(supplier_id="london-gp", timezone="UTC", window=window),
                    timeout=10,
                )
                stub.Match(pb.MatchRequest(location=where), timeout=10)
                reads[0] += 1
            except grpc.RpcError as exc:
                failures.append(f"{exc.code()}: {exc.details()}")

    readers = [threading.Thread(target=read, args=(c,)) for c in channels for _ in range(2)]
    for reader in readers:
        reader.start()
    acknowledged, refused, other = [], 0, []
    for k in range(count):
        admin = admin_grpc.FeedAdminServiceStub(channels[k % len(channels)])
        deadline = time.monotonic() + PATIENCE_S
        while time.monotonic() < deadline:
            try:
                admin.UpdateAvailability(update(k, day=day, prefix=prefix), timeout=10)
                acknowledged.append(k)
                progress.put(k)
                break
            except grpc.RpcError as exc:
                if exc.code() is not grpc.StatusCode.UNAVAILABLE:
                    other.append(f"{exc.code()}: {exc.details()}")
                    break
                refused += 1
                time.sleep(0.05)
        time.sleep(pause_s)
    stop.set()
    for reader in readers:
        reader.join()
    for channel in channels:
        channel.close()
    results.put(
        {
            "acknowledged": acknowledged,
            "refused": refused,
            "update_errors": other,
            "read_failures": failures,
            "reads": reads[0],
        }
    )


def first_hour(days: int = 3) -> datetime:
    """Midnight UTC a few days from now: where the updates of a run start."""
    return (datetime.now(UTC) + timedelta(days=days)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
