"""Hostile requests: arbitrary values in every field of every RPC get a deliberate answer.

Only OK, INVALID_ARGUMENT or NOT_FOUND may come back: never INTERNAL, UNKNOWN or a hang.
"""

from __future__ import annotations

import base64

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher_api.status import MAX_TEXT
from matcher_api.v1 import matcher_pb2 as pb
from tests.integration.helpers import bad_fields, point

DELIBERATE = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND}
FUZZ = settings(max_examples=80, deadline=None)

doubles = st.floats() | st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324, 89.999, 180.0])
int32s = st.integers(-(2**31), 2**31 - 1) | st.integers(-2, 120)
texts = st.text(max_size=30) | st.sampled_from(["", " ", "x" * 5000, "NP", "u4pruyd", "08:00"])


def slot_id(supplier: str, epoch: int, minutes: int) -> str:
    """A slot id spelled the way the service spells the ones it issues."""
    raw = f"{supplier}|{epoch}|{minutes}".encode()
    return "s1_" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


slot_like = st.builds(
    slot_id,
    st.sampled_from(["london-gp", "ny-night", "fiji-nurse", "nobody", ""]),
    st.integers(-(2**40), 2**40) | st.sampled_from([-62_135_596_800, 253_402_300_799]),
    st.integers(-5, 10**6),
)
enums = st.lists(int32s, max_size=5)
#: The seconds a Timestamp may hold: years 1 to 9999.
FIRST_SECOND, LAST_SECOND = -62_135_596_800, 253_402_300_799
timestamps = st.builds(
    Timestamp,
    seconds=st.integers(-(2**63), 2**63 - 1)
    | st.integers(FIRST_SECOND, LAST_SECOND)
    | st.sampled_from([FIRST_SECOND, LAST_SECOND - 3600, LAST_SECOND, 0, -1])
    | st.integers(1_790_000_000, 1_810_000_000),
    nanos=int32s | st.just(0),
)
windows = st.builds(pb.TimeWindow, start=st.none() | timestamps, end=st.none() | timestamps)
locations = st.one_of(
    st.builds(pb.Location),
    st.builds(pb.Location, point=st.builds(pb.LatLng, lat=doubles, lng=doubles)),
    st.builds(pb.Location, geohash=texts),
    st.builds(pb.Location, country_code=texts),
)
hours = st.none() | st.builds(pb.LocalHours, start=texts, end=texts)
word_lists = st.lists(texts | st.sampled_from(["general_practice", "en", "nursing"]), max_size=4)


def answered(call, request) -> grpc.StatusCode:
    """The status code a call ended with."""
    try:
        call(request, timeout=20)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def maybe(message, **fields):
    """The message with the optional submessages that were drawn."""
    return message(**{k: v for k, v in fields.items() if v is not None})


@FUZZ
@given(location=locations)
def test_resolve_timezone_answers_deliberately(stub, location):
    request = pb.ResolveTimezoneRequest(location=location)
    assert answered(stub.ResolveTimezone, request) in DELIBERATE


@FUZZ
@given(
    location=locations,
    radius_km=doubles,
    specialties=word_lists,
    languages=word_lists,
    modalities=enums,
    window=st.none() | windows,
    local_hours=hours,
    page_size=int32s,
    page_token=texts,
    max_slots_per_supplier=int32s,
    order=int32s,
)
def test_match_answers_deliberately(stub, **fields):
    assert answered(stub.Match, maybe(pb.MatchRequest, **fields)) in DELIBERATE


@FUZZ
@given(supplier_id=texts | st.sampled_from(["london-gp", "fiji-nurse"]))
def test_get_supplier_answers_deliberately(stub, supplier_id):
    assert answered(stub.GetSupplier, pb.GetSupplierRequest(supplier_id=supplier_id)) in DELIBERATE


@FUZZ
@given(
    supplier_id=texts | st.sampled_from(["london-gp", "fiji-nurse", "ny-night"]),
    location=st.none() | locations,
    timezone=st.none() | texts | st.sampled_from(["Asia/Kathmandu", "UTC"]),
    window=st.none() | windows,
    local_hours=hours,
    page_size=int32s,
    page_token=texts,
    group_by_user_day=st.booleans(),
)
def test_list_slots_answers_deliberately(stub, **fields):
    assert answered(stub.ListSlots, maybe(pb.ListSlotsRequest, **fields)) in DELIBERATE


@FUZZ
@given(slot_ids=st.lists(texts | slot_like, max_size=120))
def test_check_slots_answers_deliberately(stub, slot_ids):
    assert answered(stub.CheckSlots, pb.CheckSlotsRequest(slot_ids=slot_ids)) in DELIBERATE


def test_a_huge_bad_value_still_gets_its_invalid_argument_naming_the_field(stub):
    request = pb.ListSlotsRequest(supplier_id="london-gp", timezone="x" * 20_000)
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListSlots(request, timeout=10)
    assert bad_fields(caught.value) == ["timezone"]
    assert len(caught.value.details()) <= MAX_TEXT


def test_a_huge_unknown_id_still_gets_not_found(stub):
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetSupplier(pb.GetSupplierRequest(supplier_id="x" * 20_000), timeout=10)
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("start", "end"),
    [(LAST_SECOND - 86_400, None), (LAST_SECOND - 3600, LAST_SECOND), (FIRST_SECOND, None)],
    ids=["year-9999", "last-hour", "year-1"],
)
def test_a_window_at_the_ends_of_time_is_invalid_not_internal(stub, start, end):
    window = pb.TimeWindow(start=Timestamp(seconds=start))
    if end is not None:
        window.end.seconds = end
    listing = pb.ListSlotsRequest(supplier_id="london-gp", timezone="UTC", window=window)
    requests = [
        (stub.Match, pb.MatchRequest(location=point(51.5, -0.13), window=window)),
        (stub.ListSlots, listing),
    ]
    for call, request in requests:
        with pytest.raises(grpc.RpcError) as caught:
            call(request, timeout=10)
        assert bad_fields(caught.value) == ["window.start"]


def test_a_slot_id_at_the_ends_of_time_is_malformed_not_internal(stub):
    ids = [slot_id("london-gp", epoch, 30) for epoch in (FIRST_SECOND, LAST_SECOND - 3600)]
    checked = stub.CheckSlots(pb.CheckSlotsRequest(slot_ids=ids), timeout=10)
    assert [c.status for c in checked.results] == [pb.SLOT_STATUS_MALFORMED_ID] * 2
