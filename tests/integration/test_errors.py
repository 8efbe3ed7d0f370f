"""Errors a client can switch on: every status carries a google.rpc.ErrorInfo with a stable
reason in the domain matcher.v1, beside the details of its kind; the README lists each reason."""

from __future__ import annotations

import re
from datetime import timedelta

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2

from matcher.errors import (
    Abandoned,
    FailedPrecondition,
    FeedError,
    FeedRejected,
    InvalidArgument,
    MatcherError,
    NotFound,
    Overloaded,
    Reason,
    Unavailable,
    UpdateConflict,
)
from matcher_api import status
from matcher_api.v1 import matcher_pb2 as pb
from tests.conftest import ROOT
from tests.integration.helpers import error_info, point

LOS_ANGELES = point(34.05, -118.25)
README = ROOT / "README.md"


@pytest.mark.parametrize(
    ("call", "sent", "code", "reason"),
    [
        ("Match", pb.MatchRequest(location=point(95, 0)), "INVALID_ARGUMENT", "FIELD_INVALID"),
        ("Match", pb.MatchRequest(), "INVALID_ARGUMENT", "FIELD_REQUIRED"),
        (
            "Match",
            pb.MatchRequest(location=LOS_ANGELES, page_token="forged.token"),
            "INVALID_ARGUMENT",
            "PAGE_TOKEN_INVALID",
        ),
        (
            "Match",
            pb.MatchRequest(
                location=pb.Location(country_code="NP"), modalities=[pb.MODALITY_IN_PERSON]
            ),
            "INVALID_ARGUMENT",
            "LOCATION_TOO_COARSE",
        ),
        (
            "ResolveTimezone",
            pb.ResolveTimezoneRequest(location=pb.Location(country_code="US")),
            "INVALID_ARGUMENT",
            "LOCATION_TOO_COARSE",
        ),
        ("GetSupplier", pb.GetSupplierRequest(), "INVALID_ARGUMENT", "FIELD_REQUIRED"),
        (
            "GetSupplier",
            pb.GetSupplierRequest(supplier_id="nobody"),
            "NOT_FOUND",
            "SUPPLIER_NOT_FOUND",
        ),
        (
            "ListSlots",
            pb.ListSlotsRequest(supplier_id="la-peds", timezone="Mars/Olympus"),
            "INVALID_ARGUMENT",
            "FIELD_INVALID",
        ),
        ("CheckSlots", pb.CheckSlotsRequest(), "INVALID_ARGUMENT", "FIELD_INVALID"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_every_refusal_carries_its_reason_first(stub, call, sent, code, reason):
    with pytest.raises(grpc.RpcError) as caught:
        getattr(stub, call)(sent, timeout=10)
    assert caught.value.code().name == code
    info = error_info(caught.value)
    assert (info.domain, info.reason) == ("matcher.v1", reason)


def test_a_country_that_is_too_coarse_names_itself_in_the_metadata(stub):
    request = pb.ResolveTimezoneRequest(location=pb.Location(country_code="us"))
    with pytest.raises(grpc.RpcError) as caught:
        stub.ResolveTimezone(request, timeout=10)
    assert error_info(caught.value).metadata["country_code"] == "US"


FEED_ERROR = FeedError(path="feed.jsonl", line=3, field="id", reason="is required")


@pytest.mark.parametrize(
    ("error", "code", "reason", "detail"),
    [
        (
            InvalidArgument.of("radius_km", "must be at most 500 km"),
            code_pb2.INVALID_ARGUMENT,
            Reason.FIELD_INVALID,
            error_details_pb2.BadRequest,
        ),
        (
            NotFound("supplier", "x"),
            code_pb2.NOT_FOUND,
            Reason.SUPPLIER_NOT_FOUND,
            error_details_pb2.ResourceInfo,
        ),
        (
            FeedRejected("feed.jsonl", [FEED_ERROR]),
            code_pb2.FAILED_PRECONDITION,
            Reason.FEED_REJECTED,
            error_details_pb2.PreconditionFailure,
        ),
        (
            FailedPrecondition("no journal", reason=Reason.UPDATES_DISABLED),
            code_pb2.FAILED_PRECONDITION,
            Reason.UPDATES_DISABLED,
            None,
        ),
        (UpdateConflict("u1"), code_pb2.ALREADY_EXISTS, Reason.UPDATE_ID_REUSED, None),
        (Abandoned("gone"), code_pb2.CANCELLED, Reason.CALL_ABANDONED, None),
        (
            Overloaded("busy", retry_after=timedelta(milliseconds=1500)),
            code_pb2.RESOURCE_EXHAUSTED,
            Reason.TOO_MANY_CALLS,
            error_details_pb2.RetryInfo,
        ),
        (
            Unavailable("store down", retry_after=timedelta(seconds=5)),
            code_pb2.UNAVAILABLE,
            Reason.SERVICE_UNAVAILABLE,
            error_details_pb2.RetryInfo,
        ),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, MatcherError) else "",
)
def test_each_domain_error_is_one_code_with_its_error_info_and_details(error, code, reason, detail):
    made = status.status_of(error)
    assert made.code == code
    info = error_details_pb2.ErrorInfo()
    assert made.details[0].Unpack(info)
    assert (info.domain, info.reason) == ("matcher.v1", reason.value)
    assert len(made.details) == (1 if detail is None else 2)
    if detail is not None:
        assert made.details[1].Unpack(detail())


def test_a_retry_info_says_how_long_to_wait():
    made = status.status_of(Overloaded("busy", retry_after=timedelta(milliseconds=1500)))
    retry = error_details_pb2.RetryInfo()
    assert made.details[1].Unpack(retry)
    assert retry.retry_delay.ToTimedelta() == timedelta(milliseconds=1500)


def test_an_error_the_shell_does_not_know_is_internal():
    class Strange(MatcherError):
        pass

    with pytest.raises(TypeError):
        status.status_of(Strange())
    made = status.internal()
    info = error_details_pb2.ErrorInfo()
    assert made.details[0].Unpack(info)
    assert (made.code, info.reason) == (code_pb2.INTERNAL, "INTERNAL_ERROR")


def documented_reasons() -> list[str]:
    """The reasons README.md's error table lists, in order."""
    text = README.read_text()
    table = text[text.index("| Reason ") :].split("\n\n", 1)[0]
    return re.findall(r"^\| `([A-Z_]+)` ", table, re.M)


def test_the_readme_lists_every_reason_once_and_no_other():
    assert sorted(documented_reasons()) == sorted(r.value for r in Reason)
    assert len(set(documented_reasons())) == len(documented_reasons())


def test_every_reason_is_upper_snake_case():
    assert all(re.fullmatch(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*", r.value) for r in Reason)
