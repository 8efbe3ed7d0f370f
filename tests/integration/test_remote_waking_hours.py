"""Remote care in the user's waking hours: with no local_hours, a remote supplier's slots shown
are its first ones inside 08:00-20:00 of the user's day, as its ranking assumed.

A user in Kathmandu (UTC+05:45) and remote clinicians in Bangkok and Jakarta (UTC+07:00), whose
early-morning slots fall before 06:00 in Kathmandu.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc
import pytest

from matcher.engine.catalog import Catalog
from matcher.feeds import load_feed
from matcher_api.app import create_server
from matcher_api.v1 import matcher_pb2 as pb
from matcher_api.v1 import matcher_pb2_grpc as pb_grpc
from tests.conftest import matching_over
from tests.integration.helpers import local_time, match, window

KATHMANDU = (27.7172, 85.3240)
#: Tuesday 2 March 2027, 00:00 to 24:00 in Kathmandu.
TUESDAY = window("2027-03-02T00:00:00+05:45", "2027-03-03T00:00:00+05:45")
EVERY_DAY = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]


def remote(supplier_id: str, zone: str, lat: float, lng: float, start: str, end: str) -> list:
    """A remote supplier with hourly slots every day from start to end, local time."""
    return [
        {
            "record": "supplier",
            "id": supplier_id,
            "name": supplier_id,
            "specialties": ["general_practice"],
            "languages": ["en"],
            "modalities": ["REMOTE"],
            "timezone": zone,
            "location": {"lat": lat, "lng": lng},
        },
        {
            "record": "availability",
            "supplier_id": supplier_id,
            "weekly": [{"days": EVERY_DAY, "start": start, "end": end, "slot_minutes": 60}],
        },
    ]


@pytest.fixture(scope="module")
def stub(tmp_path_factory, resolver) -> Iterator[pb_grpc.MatcherServiceStub]:
    """A real server over three remote suppliers two zones east of Kathmandu."""
    records = [
        {"record": "header", "format_version": 1, "generated_at": "2026-11-20T00:00:00Z"},
        # 05:00-23:00 in Bangkok is 03:45-21:45 in Kathmandu: waking from 10:00 (08:45 NPT)
        *remote("bangkok-video", "Asia/Bangkok", 13.7563, 100.5018, "05:00", "23:00"),
        # 04:00-11:00 in Jakarta is 02:45-09:45 in Kathmandu: one waking slot, ranked after
        *remote("jakarta-video", "Asia/Jakarta", -6.2088, 106.8456, "04:00", "11:00"),
        # 03:00-09:00 in Jakarta is 01:45-07:45 in Kathmandu: none waking, so any hour, last
        *remote("jakarta-dawn", "Asia/Jakarta", -6.1751, 106.8650, "03:00", "09:00"),
    ]
    path = tmp_path_factory.mktemp("remote") / "feed.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    catalog = Catalog(load_feed(path).suppliers)
    server, port = create_server("127.0.0.1:0", matching=matching_over(lambda: catalog, resolver))
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield pb_grpc.MatcherServiceStub(channel)
    server.stop(grace=None)


def shown(response: pb.MatchResponse) -> list[tuple[str, list[str]]]:
    """Each match's supplier and the Kathmandu times of its slots."""
    return [
        (m.supplier.id, [local_time(s.user_local_start) for s in m.slots]) for m in response.matches
    ]


def test_remote_slots_shown_are_the_first_in_the_users_waking_hours(stub):
    response = match(
        stub,
        KATHMANDU,
        modalities=[pb.MODALITY_REMOTE],
        window=TUESDAY,
        max_slots_per_supplier=3,
    )
    assert response.user_timezone.zone == "Asia/Kathmandu"
    assert shown(response) == [
        ("bangkok-video", ["08:45", "09:45", "10:45"]),
        ("jakarta-video", ["08:45"]),
        ("jakarta-dawn", ["01:45", "02:45", "03:45"]),  # nothing waking: its first at any hour
    ]


def test_local_hours_still_choose_the_hours_outright(stub):
    response = match(
        stub,
        KATHMANDU,
        modalities=[pb.MODALITY_REMOTE],
        window=TUESDAY,
        max_slots_per_supplier=2,
        local_hours=pb.LocalHours(start="03:00", end="06:00"),
    )
    assert sorted(shown(response)) == [
        ("bangkok-video", ["03:45", "04:45"]),
        ("jakarta-dawn", ["03:45", "04:45"]),
        ("jakarta-video", ["03:45", "04:45"]),
    ]


def test_list_slots_of_one_supplier_shows_every_hour(stub):
    """ListSlots lists a supplier's slots in order: no ranking, so no preference."""
    response = stub.ListSlots(
        pb.ListSlotsRequest(
            supplier_id="bangkok-video", timezone="Asia/Kathmandu", window=TUESDAY, page_size=2
        ),
        timeout=10,
    )
    assert [local_time(s.user_local_start) for s in response.slots] == ["03:45", "04:45"]
