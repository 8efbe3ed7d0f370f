"""Page tokens are tamper-evident: altered, foreign, stale or junk tokens are refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matcher.errors import InvalidArgument
from matcher.model import Window
from matcher.paging import Cursor, PageTokens

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = Window(start=NOW, end=NOW + timedelta(days=7))
TOKENS = PageTokens(b"server-secret", ttl=timedelta(hours=1))


def issued() -> str:
    return TOKENS.issue(Cursor(offset=20, window=WINDOW), query="q", now=NOW)


def refusal(token: str, *, tokens: PageTokens = TOKENS, now: datetime = NOW) -> str:
    with pytest.raises(InvalidArgument) as caught:
        tokens.read(token, query="q", now=now, field="page_token")
    assert [v.field for v in caught.value.violations] == ["page_token"]
    return caught.value.violations[0].description


def test_a_token_reads_back_as_the_cursor_it_was_issued_for():
    assert TOKENS.read(issued(), query="q", now=NOW, field="page_token") == Cursor(
        offset=20, window=WINDOW
    )


def test_a_token_with_an_altered_body_is_refused():
    body, signature = issued().split(".")
    fields = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    fields[0] = 0  # jump back to the first page, keeping the old signature
    altered = base64.urlsafe_b64encode(json.dumps(fields, separators=(",", ":")).encode())
    assert "not a page token" in refusal(f"{altered.decode().rstrip('=')}.{signature}")


def test_a_token_signed_under_another_secret_is_refused():
    foreign = PageTokens(b"another-secret", ttl=timedelta(hours=1)).issue(
        Cursor(20, WINDOW), query="q", now=NOW
    )
    assert "not a page token" in refusal(foreign)


def test_a_stale_token_is_refused_once_its_time_to_live_has_passed():
    assert (
        TOKENS.read(issued(), query="q", now=NOW + timedelta(hours=1), field="page_token").offset
        == 20
    )
    assert "expired" in refusal(issued(), now=NOW + timedelta(hours=1, seconds=1))


@given(st.text() | st.builds(lambda a, b: f"{a}.{b}", st.text(), st.text()))
def test_any_junk_is_refused_as_a_bad_page_token(junk):
    refusal(junk)


def signed(fields: object) -> str:
    """A token with any body, signed with the server's own secret: as only a bug could make."""
    body = json.dumps(fields).encode()
    signature = TOKENS._sign(body)
    encode = base64.urlsafe_b64encode
    return f"{encode(body).decode().rstrip('=')}.{encode(signature).decode().rstrip('=')}"


MICROS = 1_804_000_000_000_000  # 2027-03-01, in range


@pytest.mark.parametrize(
    "fields",
    [
        ["20", MICROS, MICROS + 1, "q", MICROS, None],  # an offset that is not a number
        [20, MICROS, 10**30, "q", MICROS, None],  # an end past any date
        [20, "2027", MICROS, "q", MICROS, None],  # a start that is not a number
        [20, MICROS, MICROS + 1, "q", "now", None],  # an issue time that is not a number
        [0, MICROS, MICROS + 1, "q", MICROS, "later"],  # a ListSlots instant that is not one
        [0, MICROS, MICROS + 1, "q", MICROS, 10**30],  # nor one past any date
        [-1, MICROS, MICROS + 1, "q", MICROS, None],  # a negative offset
        [20, MICROS + 1, MICROS, "q", MICROS, None],  # a window that ends before it starts
        [20.5, MICROS, MICROS + 1, "q", MICROS, None],  # a fraction
        [True, MICROS, MICROS + 1, "q", MICROS, None],  # a boolean is not an offset
        [20, MICROS, MICROS + 1, 7, MICROS, None],  # a query digest that is not text
        {"offset": 20},
        [20, MICROS, MICROS + 1, "q", MICROS],  # a field short
    ],
)
def test_a_signed_token_whose_contents_are_wrong_is_refused_not_trusted(fields):
    assert refusal(signed(fields)) == "is not a page token this service issued"


def test_a_well_formed_signed_body_is_read_back():
    fields = [3, MICROS, MICROS + 1, "q", MICROS, MICROS]
    cursor = TOKENS.read(signed(fields), query="q", now=NOW, field="page_token")
    assert (cursor.offset, cursor.after is not None) == (3, True)
