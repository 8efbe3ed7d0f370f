"""Hostile requests: arbitrary values in every field of every RPC, and arbitrary bytes in place
of any request, get a deliberate answer.

Only codes a caller can act on may come back: never INTERNAL, UNKNOWN or a hang. Every answer of
the whole run is counted, and the last test checks the tally.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.auth import Keyring, digest, parse_keys
from matcher.service import Administration
from matcher.settings import Limits
from matcher_api.app import create_server
from matcher_api.edge import Edge
from matcher_api.status import MAX_TEXT
from matcher_api.v1 import feed_admin_pb2 as admin_pb
from matcher_api.v1 import feed_admin_pb2_grpc as admin_grpc
from matcher_api.v1 import matcher_pb2 as pb
from tests.conftest import NOW, TINY_FEED, matching_over
from tests.integration.helpers import bad_fields, point
from tests.replicas import sqlite_replica

DELIBERATE = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND}
#: FeedAdmin may also say an update conflicts with an earlier one, or that a feed is refused.
ADMIN_DELIBERATE = DELIBERATE | {
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
}
NEVER = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
FUZZ = settings(max_examples=80, deadline=None)
#: Every status code the fuzz run saw, all tests together.
SEEN: Counter[grpc.StatusCode] = Counter()
OPS_TOKEN = "fuzz-ops-token"
METHODS = [
    "/matcher.v1.MatcherService/ResolveTimezone",
    "/matcher.v1.MatcherService/Match",
    "/matcher.v1.MatcherService/GetSupplier",
    "/matcher.v1.MatcherService/ListSlots",
    "/matcher.v1.MatcherService/CheckSlots",
    "/matcher.v1.FeedAdminService/ReloadFeeds",
    "/matcher.v1.FeedAdminService/GetFeedStatus",
    "/matcher.v1.FeedAdminService/UpdateAvailability",
    "/grpc.health.v1.Health/Check",
]

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


def answered(call, request, **options) -> grpc.StatusCode:
    """The status code a call ended with, counted in the run's tally."""
    try:
        call(request, timeout=20, **options)
        code = grpc.StatusCode.OK
    except grpc.RpcError as error:
        code = error.code()
    SEEN[code] += 1
    return code


@pytest.fixture(scope="module")
def admin_channel(tmp_path_factory, resolver) -> Iterator[grpc.Channel]:
    """A server with FeedAdminService taking updates over a copy of the tiny feed, tokens
    required."""
    folder = tmp_path_factory.mktemp("fuzz-admin")
    feed = folder / "feed.jsonl"
    feed.write_bytes(TINY_FEED.read_bytes())
    keys = parse_keys(f"{digest(OPS_TOKEN)} match,admin", source="fuzz")
    with sqlite_replica(feed, folder / "store", updates=True) as replica:
        server, port = create_server(
            "127.0.0.1:0",
            matching=matching_over(replica.current, resolver),
            administration=Administration(replica=replica, limits=Limits(), clock=lambda: NOW),
            edge=Edge(keyring=Keyring(keys), auth_failures_per_minute=1_000_000),
        )
        server.start()
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel
        server.stop(grace=None)


def ops() -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {OPS_TOKEN}"),)


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


# FeedAdmin, field by field

new_slots = st.lists(
    st.builds(admin_pb.NewSlot, start=st.none() | timestamps, minutes=int32s), max_size=5
)


@FUZZ
@given(
    update_id=texts,
    supplier_id=texts | st.sampled_from(["london-gp", "fiji-nurse", "ny-night"]),
    window=st.none() | windows,
    slots=new_slots,
)
def test_update_availability_answers_deliberately(admin_channel, **fields):
    stub = admin_grpc.FeedAdminServiceStub(admin_channel)
    request = maybe(admin_pb.UpdateAvailabilityRequest, **fields)
    assert answered(stub.UpdateAvailability, request, metadata=ops()) in ADMIN_DELIBERATE


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (LAST_SECOND - 7 * 86_400, LAST_SECOND - 86_400),  # near year 9999
        (FIRST_SECOND, FIRST_SECOND + 86_400),  # year 1
        (-86_400, 0),  # just before 1970
    ],
    ids=["year-9999", "year-1", "before-1970"],
)
def test_an_update_window_is_bounded_like_a_read(admin_channel, start, end):
    request = admin_pb.UpdateAvailabilityRequest(
        update_id=f"ends-of-time-{start}",
        supplier_id="london-gp",
        window=pb.TimeWindow(start=Timestamp(seconds=start), end=Timestamp(seconds=end)),
        slots=[admin_pb.NewSlot(start=Timestamp(seconds=start + 3600), minutes=30)],
    )
    with pytest.raises(grpc.RpcError) as caught:
        admin_grpc.FeedAdminServiceStub(admin_channel).UpdateAvailability(
            request, metadata=ops(), timeout=10
        )
    SEEN[caught.value.code()] += 1
    assert bad_fields(caught.value) == ["window.start"]


def test_feed_status_and_reload_answer_deliberately(admin_channel):
    stub = admin_grpc.FeedAdminServiceStub(admin_channel)
    assert answered(stub.GetFeedStatus, admin_pb.GetFeedStatusRequest(), metadata=ops()) in (
        ADMIN_DELIBERATE
    )
    assert answered(stub.ReloadFeeds, admin_pb.ReloadFeedsRequest(), metadata=ops()) in (
        ADMIN_DELIBERATE
    )


# Any bytes at all, in place of any request

raw_bytes = st.binary(max_size=200) | st.sampled_from(
    [
        b"\xff",  # a truncated varint
        b"\x0a\x05\xff\xfe\xfd\xfc\xfb",  # field 1, length 5, bytes that are not UTF-8
        b"\x12\x03\xc3\x28\x41",  # field 2: an invalid UTF-8 sequence
        b"\x0a\x80\x80\x80\x80\x10",  # a length far past the end
        b"\x0b" * 50,  # start-group tags that never end
        b"\x0a\x02\x0a\x00" * 40,
    ]
)


@FUZZ
@given(method=st.sampled_from(METHODS), body=raw_bytes)
def test_any_bytes_from_a_caller_with_a_token_get_a_deliberate_answer(admin_channel, method, body):
    call = admin_channel.unary_unary(method)
    assert answered(call, body, metadata=ops()) in ADMIN_DELIBERATE


@FUZZ
@given(method=st.sampled_from(METHODS[:-1]), body=raw_bytes)
def test_any_bytes_without_a_token_learn_nothing_but_unauthenticated(admin_channel, method, body):
    assert answered(admin_channel.unary_unary(method), body) is grpc.StatusCode.UNAUTHENTICATED


def test_a_malformed_message_is_invalid_argument_not_internal(admin_channel, caplog):
    call = admin_channel.unary_unary("/matcher.v1.MatcherService/GetSupplier")
    with pytest.raises(grpc.RpcError) as caught:
        call(b"\x0a\x03\xc3\x28\x41", metadata=ops(), timeout=10)  # supplier_id: not UTF-8
    SEEN[caught.value.code()] += 1
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "GetSupplier" in caught.value.details()
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


# The tally: this test runs last in the module


def test_no_answer_in_the_whole_fuzz_run_was_internal_or_unknown():
    assert sum(SEEN.values()) > 500, SEEN
    assert not NEVER & set(SEEN), SEEN
