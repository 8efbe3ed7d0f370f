"""The server's edge in process: request ids and access logs, tokens and scopes, load limits."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from matcher.auth import Keyring, digest, parse_keys
from matcher_api.app import create_server
from matcher_api.edge import Edge
from matcher_api.v1 import matcher_pb2 as pb
from matcher_api.v1 import matcher_pb2_grpc as pb_grpc
from tests.integration.helpers import error_info, point

LONDON = point(51.5136, -0.1365)
KEYS = "\n".join(
    [
        f"{digest('user-token')} match",
        f"{digest('ops-token')} match,admin",
        f"{digest('old-token')} match expires=2000-01-01",
    ]
)


def admin_echo(request: bytes, context: grpc.ServicerContext) -> bytes:
    """Stands in for an operator method: answers with what it got."""
    return request


def holding(release: threading.Event) -> Callable[[bytes, grpc.ServicerContext], bytes]:
    """An operator method that keeps its thread until ``release`` is set: a slow call."""

    def hold(request: bytes, context: grpc.ServicerContext) -> bytes:
        release.wait(timeout=30)
        return request

    return hold


@contextmanager
def serving(
    matching, edge: Edge, *, max_workers: int = 16, release: threading.Event | None = None
) -> Iterator[grpc.Channel]:
    """A channel to a server with this edge and stand-in operator methods Echo and Hold."""
    server, port = create_server(
        "127.0.0.1:0", matching=matching, edge=edge, max_workers=max_workers
    )
    methods = {
        "Echo": grpc.unary_unary_rpc_method_handler(admin_echo),
        "Hold": grpc.unary_unary_rpc_method_handler(holding(release or threading.Event())),
    }
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("matcher.v1.FeedAdminService", methods),)
    )
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel
    if release is not None:
        release.set()
    server.stop(grace=None)


@pytest.fixture(scope="module")
def guarded(matching):
    """A server that wants tokens."""
    with serving(matching, Edge(keyring=Keyring(parse_keys(KEYS, source="test")))) as channel:
        yield channel


@pytest.fixture(scope="module")
def capped(matching):
    """A server with room for one call at a time, and one thread to run it."""
    edge = Edge(max_concurrent_rpcs=1, retry_after=timedelta(seconds=2.5))
    with serving(matching, edge, max_workers=1) as channel:
        yield channel


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def match(channel, metadata=()) -> pb.MatchResponse:
    return pb_grpc.MatcherServiceStub(channel).Match(
        pb.MatchRequest(location=LONDON, page_size=1), metadata=metadata, timeout=10
    )


def code_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value.code()


def refusal_of(call) -> tuple[grpc.StatusCode, error_details_pb2.ErrorInfo, list[any_pb2.Any]]:
    """A refused call's code, its ErrorInfo and every detail of its status."""
    with pytest.raises(grpc.RpcError) as caught:
        call()
    status = rpc_status.from_call(caught.value)
    assert status is not None
    return caught.value.code(), error_info(caught.value), list(status.details)


def test_each_call_gets_its_own_request_id_echoed_in_the_response_headers(stub):
    ids = []
    for _ in range(2):
        _, call = stub.Match.with_call(pb.MatchRequest(location=LONDON), timeout=10)
        ids.extend(value for key, value in call.initial_metadata() if key == "x-request-id")
    assert len(ids) == 2
    assert ids[0] != ids[1]


def test_the_access_log_names_request_id_method_code_and_duration(stub, caplog):
    caplog.set_level(logging.INFO, logger="matcher.access")
    _, call = stub.Match.with_call(pb.MatchRequest(location=LONDON), timeout=10)
    with pytest.raises(grpc.RpcError):
        stub.GetSupplier(pb.GetSupplierRequest(supplier_id="nobody"), timeout=10)
    request_id = dict(call.initial_metadata())["x-request-id"]
    entries = {r.request_id: r for r in caplog.records if r.name == "matcher.access"}
    assert entries[request_id].method == "/matcher.v1.MatcherService/Match"
    assert entries[request_id].code == "OK"
    assert entries[request_id].duration_ms >= 0
    assert [r.code for r in entries.values()] == ["OK", "NOT_FOUND"]


def test_a_call_without_a_token_or_with_an_unknown_one_is_unauthenticated(guarded):
    for metadata in ((), bearer("guessed"), (("authorization", "user-token"),)):
        code, info, _ = refusal_of(lambda m=metadata: match(guarded, m))
        assert code is grpc.StatusCode.UNAUTHENTICATED
        assert info.reason == "TOKEN_INVALID"


def test_a_valid_token_with_the_match_scope_may_match(guarded):
    assert match(guarded, bearer("user-token")).matches


def test_an_expired_key_no_longer_authenticates(guarded):
    assert code_of(lambda: match(guarded, bearer("old-token"))) is grpc.StatusCode.UNAUTHENTICATED


def test_feed_admin_methods_need_the_admin_scope(guarded):
    echo = guarded.unary_unary("/matcher.v1.FeedAdminService/Echo")
    assert echo(b"ping", metadata=bearer("ops-token"), timeout=10) == b"ping"
    denied, info, _ = refusal_of(lambda: echo(b"ping", metadata=bearer("user-token"), timeout=10))
    assert denied is grpc.StatusCode.PERMISSION_DENIED
    assert (info.reason, dict(info.metadata)) == ("SCOPE_MISSING", {"scope": "admin"})
    assert code_of(lambda: echo(b"ping", timeout=10)) is grpc.StatusCode.UNAUTHENTICATED


def test_health_checks_need_no_token(guarded):
    response = health_pb2_grpc.HealthStub(guarded).Check(
        health_pb2.HealthCheckRequest(), timeout=10
    )
    assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_needs_a_token(guarded):
    stub = reflection_pb2_grpc.ServerReflectionStub(guarded)

    def list_services(metadata):
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        return next(stub.ServerReflectionInfo(iter([request]), metadata=metadata, timeout=10))

    assert list_services(bearer("user-token")).list_services_response.service
    assert code_of(lambda: list_services(())) is grpc.StatusCode.UNAUTHENTICATED


def test_calls_beyond_the_concurrency_cap_are_refused_not_queued(matching):
    """A slow call holds the only place: the next is refused, with its reason and RetryInfo,
    after the wait it asks for (so a caller that retries at once is paced), never queued."""
    release = threading.Event()
    edge = Edge(max_concurrent_rpcs=1, retry_after=timedelta(seconds=2.5))
    with serving(matching, edge, release=release) as capped:
        held = capped.unary_unary("/matcher.v1.FeedAdminService/Hold").future(b"x", timeout=30)
        time.sleep(0.2)  # the slow call now holds the only place
        try:
            refused, info, details = refusal_of(lambda: match(capped))
        finally:
            release.set()
        assert held.result() == b"x"
    assert refused is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert info.reason == "TOO_MANY_CALLS"
    retry = error_details_pb2.RetryInfo()
    assert details[1].Unpack(retry)
    assert retry.retry_delay.ToTimedelta() == timedelta(seconds=2.5)


def test_the_cap_frees_its_place_when_a_call_ends(capped):
    """A place frees when the server has finished a call, a moment after its caller has the
    answer (as with grpcio's own limit), so each call waits until the last one is done."""
    for _ in range(3):
        assert eventually(lambda: match(capped)).matches


def eventually(call, *, attempts: int = 100):
    """The first answer of a call retried while RESOURCE_EXHAUSTED, 50 ms apart."""
    for _ in range(attempts - 1):
        try:
            return call()
        except grpc.RpcError as error:
            if error.code() is not grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise
        time.sleep(0.05)
    return call()


def test_a_message_over_the_size_limit_is_refused(stub):
    oversized = pb.CheckSlotsRequest(slot_ids=["x" * 1024] * 1100)
    assert oversized.ByteSize() > 1 << 20
    assert (
        code_of(lambda: stub.CheckSlots(oversized, timeout=10))
        is grpc.StatusCode.RESOURCE_EXHAUSTED
    )


def test_a_call_past_its_deadline_ends_deadline_exceeded_and_the_server_keeps_serving(
    stub, channel
):
    request = pb.MatchRequest(location=LONDON, max_slots_per_supplier=100)
    assert code_of(lambda: stub.Match(request, timeout=1e-6)) is grpc.StatusCode.DEADLINE_EXCEEDED
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert stub.Match(request, timeout=10).matches


def test_a_call_whose_deadline_passed_while_queued_never_runs(matching, caplog):
    caplog.set_level(logging.INFO, logger="matcher.access")
    release = threading.Event()
    with serving(matching, Edge(), max_workers=1, release=release) as channel:
        held = channel.unary_unary("/matcher.v1.FeedAdminService/Hold").future(b"x", timeout=30)
        time.sleep(0.2)  # the slow call now holds the only thread
        queued = pb_grpc.MatcherServiceStub(channel).Match.future(
            pb.MatchRequest(location=LONDON), timeout=0.2
        )
        assert queued.exception(timeout=30).code() is grpc.StatusCode.DEADLINE_EXCEEDED
        release.set()  # frees the thread; the queued call's turn comes, and it is dropped
        assert held.result() == b"x"
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=30)
    methods = [r.method.rsplit("/", 1)[1] for r in caplog.records if r.name == "matcher.access"]
    assert methods == ["Hold", "Check"]


# Streams hold no thread; the gate answers before it parses


def test_four_times_as_many_watch_streams_as_threads_leave_ordinary_calls_answered(matching):
    threads = 4
    with serving(matching, Edge(), max_workers=threads) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        watches = [health.Watch(health_pb2.HealthCheckRequest(), timeout=60) for _ in range(16)]
        try:
            for watch in watches:
                assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
            for _ in range(3 * threads):  # each would queue forever if a stream held a thread
                assert match(channel).matches
            reply = health.Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        finally:
            for watch in watches:
                watch.cancel()


def test_an_unknown_method_needs_a_token_before_it_is_unimplemented(guarded):
    nothing = guarded.unary_unary("/matcher.v1.MatcherService/NoSuchMethod")
    assert code_of(lambda: nothing(b"", timeout=10)) is grpc.StatusCode.UNAUTHENTICATED
    found, info, _ = refusal_of(lambda: nothing(b"", metadata=bearer("user-token"), timeout=10))
    assert (found, info.reason) == (grpc.StatusCode.UNIMPLEMENTED, "METHOD_UNKNOWN")
    elsewhere = guarded.unary_unary("/no.such.Service/Method")
    assert code_of(lambda: elsewhere(b"", timeout=10)) is grpc.StatusCode.UNAUTHENTICATED


def test_two_authorization_headers_are_refused_even_if_one_is_valid(guarded):
    for pair in (("user-token", "guessed"), ("guessed", "user-token"), ("user-token",) * 2):
        headers = tuple(("authorization", f"Bearer {token}") for token in pair)
        assert code_of(lambda h=headers: match(guarded, h)) is grpc.StatusCode.UNAUTHENTICATED


def test_a_malformed_request_is_unauthenticated_without_a_token_and_invalid_with_one(guarded):
    raw = guarded.unary_unary("/matcher.v1.MatcherService/Match")
    garbage = b"\x0a\xff\xff"
    assert code_of(lambda: raw(garbage, timeout=10)) is grpc.StatusCode.UNAUTHENTICATED
    refused, info, _ = refusal_of(lambda: raw(garbage, metadata=bearer("user-token"), timeout=10))
    assert (refused, info.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "REQUEST_MALFORMED")


def test_a_malformed_request_is_logged_as_a_call_with_its_request_id_not_as_an_error(
    guarded, caplog
):
    caplog.set_level(logging.INFO)
    raw = guarded.unary_unary("/matcher.v1.MatcherService/GetSupplier")
    with pytest.raises(grpc.RpcError) as caught:
        raw(b"\x0a\x02\xc3\x28", metadata=bearer("user-token"), timeout=10)
    request_id = dict(caught.value.initial_metadata())["x-request-id"]
    lines = [r for r in caplog.records if getattr(r, "request_id", None) == request_id]
    assert [(r.levelname, r.code) for r in lines] == [("INFO", "INVALID_ARGUMENT")]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# Failed authentication has a budget per address


def test_failed_tokens_from_one_address_are_throttled_while_another_address_still_gets_in(
    matching,
):
    edge = Edge(keyring=Keyring(parse_keys(KEYS, source="test")), auth_failures_per_minute=5)
    server, port = create_server("localhost:0", matching=matching, edge=edge)
    server.start()
    try:
        with (
            grpc.insecure_channel(f"127.0.0.1:{port}") as attacker,
            grpc.insecure_channel(f"[::1]:{port}") as other,
        ):
            codes = [code_of(lambda k=k: match(attacker, bearer(f"guess-{k}"))) for k in range(8)]
            assert codes[:5] == [grpc.StatusCode.UNAUTHENTICATED] * 5
            assert set(codes[5:]) == {grpc.StatusCode.RESOURCE_EXHAUSTED}
            # the budget is spent: from there, even a valid token learns nothing
            spent = code_of(lambda: match(attacker, bearer("user-token")))
            assert spent is grpc.StatusCode.RESOURCE_EXHAUSTED
            # from elsewhere, a valid token works, and a bad one is still merely unauthenticated
            assert match(other, bearer("user-token")).matches
            wrong = code_of(lambda: match(other, bearer("guess")))
            assert wrong is grpc.StatusCode.UNAUTHENTICATED
    finally:
        server.stop(grace=None)


def test_one_callers_flood_is_refused_once_it_has_its_share_and_others_are_still_served(matching):
    release = threading.Event()
    edge = Edge(keyring=Keyring(parse_keys(KEYS, source="test")), max_calls_per_caller=3)
    with serving(matching, edge, release=release) as channel:
        hold = channel.unary_unary("/matcher.v1.FeedAdminService/Hold")
        held = [hold.future(b"x", metadata=bearer("ops-token"), timeout=30) for _ in range(3)]
        time.sleep(0.3)  # the three slow calls are queued or running
        try:
            refused = code_of(lambda: hold(b"x", metadata=bearer("ops-token"), timeout=10))
            assert refused is grpc.StatusCode.RESOURCE_EXHAUSTED
            assert match(channel, bearer("user-token")).matches
        finally:
            release.set()
        assert [f.result() for f in held] == [b"x"] * 3
