"""The API's behaviour beyond the golden cases: errors, paging, checks and concurrency."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from matcher_api.v1 import matcher_pb2 as pb
from tests.conftest import NOW
from tests.integration.helpers import bad_fields, match, point, window

LOS_ANGELES = (34.05, -118.25)


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"location": point(math.nan, 0.0)}, "location.point.lat"),
        ({"location": point(0.0, math.inf)}, "location.point.lng"),
        ({"location": point(90.5, 0.0)}, "location.point.lat"),
        ({"location": point(0.0, -180.01)}, "location.point.lng"),
        ({"location": pb.Location(geohash="ailo")}, "location.geohash"),
        ({"location": pb.Location(country_code="US")}, "location.country_code"),
        ({"location": pb.Location(country_code="ZZ")}, "location.country_code"),
        ({}, "location"),
        ({"radius_km": -1.0}, "radius_km"),
        ({"radius_km": math.nan}, "radius_km"),
        ({"radius_km": 501.0}, "radius_km"),
        ({"page_size": -1}, "page_size"),
        ({"max_slots_per_supplier": 1000}, "max_slots_per_supplier"),
        ({"window": window("2027-03-10T00:00:00Z", "2027-03-09T00:00:00Z")}, "window.end"),
        ({"window": window("2027-03-10T00:00:00Z", "2027-03-10T00:00:00Z")}, "window.end"),
        ({"local_hours": pb.LocalHours(start="8:00", end="20:00")}, "local_hours.start"),
        ({"local_hours": pb.LocalHours(start="08:00", end="08:00")}, "local_hours.end"),
        ({"modalities": [pb.MODALITY_UNSPECIFIED]}, "modalities[0]"),
        ({"modalities": [pb.MODALITY_REMOTE, 42]}, "modalities[1]"),
        ({"order": 9}, "order"),
        ({"page_token": "forged.token"}, "page_token"),
    ],
)
def test_bad_match_requests_get_invalid_argument_naming_the_field(stub, request_fields, field):
    request = pb.MatchRequest(location=point(*LOS_ANGELES))
    if "location" in request_fields and not request_fields["location"].ByteSize():
        request.ClearField("location")
    for name, value in request_fields.items():
        if isinstance(value, list):
            getattr(request, name).extend(value)
        elif hasattr(value, "CopyFrom"):
            getattr(request, name).CopyFrom(value)
        else:
            setattr(request, name, value)
    if request_fields == {}:
        request.ClearField("location")
    with pytest.raises(grpc.RpcError) as caught:
        stub.Match(request, timeout=10)
    assert bad_fields(caught.value) == [field]


def test_an_out_of_range_timestamp_is_invalid_not_internal(stub):
    request = pb.MatchRequest(location=point(*LOS_ANGELES))
    request.window.start.seconds = 10**13
    with pytest.raises(grpc.RpcError) as caught:
        stub.Match(request, timeout=10)
    assert bad_fields(caught.value) == ["window.start"]


def test_a_country_locates_remote_care_only(stub):
    response = stub.Match(pb.MatchRequest(location=pb.Location(country_code="NP")), timeout=10)
    assert response.user_timezone.zone == "Asia/Kathmandu"
    assert response.matches
    assert all(list(m.matched_modalities) == [pb.MODALITY_REMOTE] for m in response.matches)
    with pytest.raises(grpc.RpcError) as caught:
        stub.Match(
            pb.MatchRequest(
                location=pb.Location(country_code="NP"), modalities=[pb.MODALITY_IN_PERSON]
            )
        )
    assert bad_fields(caught.value) == ["location"]


def test_resolve_timezone_returns_the_coarse_point_it_used(stub):
    response = stub.ResolveTimezone(pb.ResolveTimezoneRequest(location=point(27.71541, 85.31239)))
    assert response.timezone.zone == "Asia/Kathmandu"
    assert response.timezone.utc_offset_seconds == 20700
    assert (response.coarse_location.lat, response.coarse_location.lng) != (27.71541, 85.31239)
    assert abs(response.coarse_location.lat - 27.71541) < 0.01


def test_unknown_supplier_is_not_found(stub):
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetSupplier(pb.GetSupplierRequest(supplier_id="nobody"))
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND
    found = stub.GetSupplier(pb.GetSupplierRequest(supplier_id="la-peds")).supplier
    assert found.timezone == "America/Los_Angeles"


def test_list_slots_needs_a_user_zone_and_a_real_one(stub):
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListSlots(pb.ListSlotsRequest(supplier_id="la-peds"))
    assert bad_fields(caught.value) == ["user"]
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListSlots(pb.ListSlotsRequest(supplier_id="la-peds", timezone="Mars/Olympus"))
    assert bad_fields(caught.value) == ["timezone"]


def test_pages_cover_every_match_exactly_once(stub):
    whole = match(stub, LOS_ANGELES, page_size=100)
    seen, token = [], ""
    while True:
        page = match(stub, LOS_ANGELES, page_size=2, page_token=token)
        seen.extend(m.supplier.id for m in page.matches)
        token = page.next_page_token
        if not token:
            break
    assert seen == [m.supplier.id for m in whole.matches]
    assert len(seen) > 2


def test_a_page_token_is_bound_to_its_query(stub):
    token = match(stub, LOS_ANGELES, page_size=1).next_page_token
    assert token
    with pytest.raises(grpc.RpcError) as caught:
        match(stub, LOS_ANGELES, page_size=1, page_token=token, radius_km=10)
    assert bad_fields(caught.value) == ["page_token"]


def test_check_slots_answers_once_per_id_in_order(stub):
    response = match(stub, LOS_ANGELES, modalities=[pb.MODALITY_IN_PERSON])
    slot_id = response.matches[0].slots[0].slot_id
    checks = stub.CheckSlots(pb.CheckSlotsRequest(slot_ids=[slot_id, "garbage", slot_id])).results
    assert [c.slot_id for c in checks] == [slot_id, "garbage", slot_id]
    assert [c.status for c in checks] == [
        pb.SLOT_STATUS_BOOKABLE,
        pb.SLOT_STATUS_MALFORMED_ID,
        pb.SLOT_STATUS_BOOKABLE,
    ]
    assert [c.bookable for c in checks] == [True, False, True]


def test_check_slots_bounds_the_batch(stub):
    with pytest.raises(grpc.RpcError) as caught:
        stub.CheckSlots(pb.CheckSlotsRequest(slot_ids=["x"] * 101))
    assert bad_fields(caught.value) == ["slot_ids"]


def test_default_window_is_the_next_seven_days(stub):
    response = match(stub, LOS_ANGELES)
    start = response.window.start.ToDatetime().replace(tzinfo=NOW.tzinfo)
    end = response.window.end.ToDatetime().replace(tzinfo=NOW.tzinfo)
    assert (start, (end - start).days) == (NOW, 7)


def test_health_reports_serving(channel):
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "matcher.v1.MatcherService"):
        reply = health.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_many_threads_matching_at_once_all_get_the_same_answer(stub):
    """Shared indexes and caches under concurrent reads: hammer Match from 16 threads."""
    places = [LOS_ANGELES, (-18.14, 178.44), (78.92, 11.93), (51.51, -0.13), (-14.28, -170.7)]
    expected = {p: match(stub, p, radius_km=300) for p in places}

    def call(k: int) -> bool:
        where = places[k % len(places)]
        return match(stub, where, radius_km=300) == expected[where]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(call, range(800)))
    assert all(results)


def test_list_slots_pages_by_the_users_day_with_both_local_ends(stub):
    """London seen from New York, three days a page: days hold the slots, slots stay empty."""
    request = pb.ListSlotsRequest(
        supplier_id="london-gp",
        timezone="America/New_York",
        window=window("2027-03-01T00:00:00Z", "2027-03-08T00:00:00Z"),
        page_size=40,
        group_by_user_day=True,
    )
    seen, token = [], ""
    while True:
        request.page_token = token
        page = stub.ListSlots(request, timeout=10)
        assert not page.slots
        assert all(d.slots for d in page.days)
        for day in page.days:
            for s in day.slots:
                assert s.user_local_start[:10] == day.date
                assert s.user_local_end > s.user_local_start
                assert s.supplier_local_end[-6:] == s.supplier_local_start[-6:]
            seen.extend(s.slot_id for s in day.slots)
        token = page.next_page_token
        if not token:
            break
    flat = stub.ListSlots(
        pb.ListSlotsRequest(
            supplier_id="london-gp",
            timezone="America/New_York",
            window=request.window,
            page_size=5000,
        ),
        timeout=10,
    )
    assert seen == [s.slot_id for s in flat.slots]
    assert len(seen) > 40
    assert not flat.days


def test_each_answer_says_where_the_users_zone_came_from(stub):
    brazil = stub.ResolveTimezone(
        pb.ResolveTimezoneRequest(location=pb.Location(country_code="br")), timeout=10
    )
    assert brazil.timezone.zone == "America/Sao_Paulo"
    assert brazil.zone_origin.source == pb.ZONE_SOURCE_COUNTRY
    assert brazil.zone_origin.country_code == "BR"
    assert 0.9 <= brazil.zone_origin.population_share <= 1.0
    assert not brazil.HasField("coarse_location")
    near = match(stub, LOS_ANGELES)
    assert near.zone_origin == pb.ZoneOrigin(source=pb.ZONE_SOURCE_POINT)
    listed = stub.ListSlots(
        pb.ListSlotsRequest(supplier_id="london-gp", timezone="Asia/Kathmandu"), timeout=10
    )
    assert listed.zone_origin == pb.ZoneOrigin(source=pb.ZONE_SOURCE_TIMEZONE)
    by_country = stub.ListSlots(
        pb.ListSlotsRequest(supplier_id="london-gp", location=pb.Location(country_code="JP")),
        timeout=10,
    )
    assert by_country.zone_origin.source == pb.ZONE_SOURCE_COUNTRY
    assert by_country.user_timezone.zone == "Asia/Tokyo"
