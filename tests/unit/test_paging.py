"""Page tokens: a signed cursor that only the issuing server accepts, for its query, for an hour."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.errors import FieldViolation, InvalidArgument
from matcher.model import Window
from matcher.paging import Cursor, PageTokens, fingerprint

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
CURSOR = Cursor(offset=20, window=Window(start=NOW, end=NOW + timedelta(days=7, microseconds=123)))
QUERY = fingerprint((51.5, -0.1), "Europe/London", 25.0, ["general_practice"])
TOKENS = PageTokens(b"server-secret", ttl=timedelta(hours=1))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def refused(
    token: str, *, tokens: PageTokens = TOKENS, query: str = QUERY, now: datetime = NOW
) -> FieldViolation:
    """The one violation reading ``token`` raises."""
    with pytest.raises(InvalidArgument) as raised:
        tokens.read(token, query=query, now=now, field="page_token")
    (violation,) = raised.value.violations
    return violation


def test_token_round_trips_the_cursor() -> None:
    token = TOKENS.issue(CURSOR, query=QUERY, now=NOW)
    assert TOKENS.read(token, query=QUERY, now=NOW, field="page_token") == CURSOR


def test_token_is_url_safe() -> None:
    token = TOKENS.issue(CURSOR, query=QUERY, now=NOW)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_token_is_accepted_until_its_ttl_has_passed() -> None:
    tokens = PageTokens(b"server-secret", ttl=timedelta(minutes=10))
    token = tokens.issue(CURSOR, query=QUERY, now=NOW)
    assert (
        tokens.read(token, query=QUERY, now=NOW + timedelta(minutes=10), field="page_token")
        == CURSOR
    )


def test_expired_token_is_refused() -> None:
    tokens = PageTokens(b"server-secret", ttl=timedelta(minutes=10))
    token = tokens.issue(CURSOR, query=QUERY, now=NOW)
    violation = refused(token, tokens=tokens, now=NOW + timedelta(minutes=10, microseconds=1))
    assert violation.field == "page_token"
    assert "expired" in violation.description


def test_token_for_another_query_is_refused() -> None:
    token = TOKENS.issue(CURSOR, query=QUERY, now=NOW)
    other = fingerprint((51.5, -0.1), "Europe/London", 50.0, ["general_practice"])
    violation = refused(token, query=other)
    assert violation.field == "page_token"
    assert "different query" in violation.description


def test_token_from_a_server_with_another_secret_is_refused() -> None:
    token = PageTokens(b"another-secret", ttl=timedelta(hours=1)).issue(
        CURSOR, query=QUERY, now=NOW
    )
    assert refused(token).field == "page_token"


def test_token_with_an_altered_body_is_refused() -> None:
    """Skipping ahead by rewriting the offset breaks the signature."""
    body, signature = TOKENS.issue(CURSOR, query=QUERY, now=NOW).split(".")
    fields = json.loads(unb64(body))
    fields[0] = 1000
    altered = b64(json.dumps(fields, separators=(",", ":")).encode())
    assert refused(f"{altered}.{signature}").field == "page_token"


def test_token_with_an_altered_signature_is_refused() -> None:
    body, signature = TOKENS.issue(CURSOR, query=QUERY, now=NOW).split(".")
    flipped = bytearray(unb64(signature))
    flipped[0] ^= 0x01
    assert refused(f"{body}.{b64(bytes(flipped))}").field == "page_token"


def test_token_with_a_truncated_signature_is_refused() -> None:
    body, signature = TOKENS.issue(CURSOR, query=QUERY, now=NOW).split(".")
    assert refused(f"{body}.{signature[:-4]}").field == "page_token"


@pytest.mark.parametrize(
    "token",
    ["", ".", "..", "abc", "abc.def", "a.b.c", "not a token", "é.é", "////.////", "%%%.%%%", "=.="],
)
def test_garbage_token_is_refused(token: str) -> None:
    assert refused(token).field == "page_token"


def test_refusal_names_the_field_it_was_given() -> None:
    with pytest.raises(InvalidArgument) as raised:
        TOKENS.read("garbage", query=QUERY, now=NOW, field="request.page_token")
    assert [v.field for v in raised.value.violations] == ["request.page_token"]


@settings(max_examples=200, deadline=None)
@given(token=st.text())
def test_random_text_is_refused_as_invalid_argument(token: str) -> None:
    """No input makes read() fail any other way."""
    assert refused(token).field == "page_token"


def test_fingerprint_is_deterministic_and_sensitive() -> None:
    assert fingerprint("a", 1, [2]) == fingerprint("a", 1, [2])
    assert fingerprint("a", 1, [2]) != fingerprint("a", 1, [3])
