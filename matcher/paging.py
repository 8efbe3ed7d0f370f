"""Tamper-evident page tokens: a signed cursor bound to the query that issued it."""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from matcher import urlsafe
from matcher.errors import InvalidArgument, Reason
from matcher.instants import EARLIEST, LATEST, from_micros, to_micros
from matcher.model import Window

#: How deep paging may go: far past any real use (pages hold at most a few hundred matches).
MAX_OFFSET = 1_000_000
EARLIEST_MICROS, LATEST_MICROS = to_micros(EARLIEST), to_micros(LATEST)


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts, and the window the first page fixed.

    Without ``after``, the next page starts ``offset`` results into the answer (Match's
    ranking). With it, it starts at the result at the instant ``after``, past the ``offset``
    results at that same instant already sent (ListSlots, whose slots are in time order, so
    slots added or removed before it move nothing).
    """

    offset: int
    window: Window
    after: datetime | None = None


def fingerprint(*parts: object) -> str:
    """A short digest of the query fields a token must stay bound to."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


class PageTokens:
    """Issues and checks page tokens signed with HMAC-SHA256 under a server secret."""

    def __init__(self, secret: bytes | Callable[[], bytes], *, ttl: timedelta) -> None:
        """``secret`` is the key, or where to get it once known (a store's shared one)."""
        self._secret = secret
        self._ttl = ttl

    def issue(self, cursor: Cursor, *, query: str, now: datetime) -> str:
        """A token for the page after this one."""
        body = json.dumps(
            [
                cursor.offset,
                to_micros(cursor.window.start),
                to_micros(cursor.window.end),
                query,
                to_micros(now),
                None if cursor.after is None else to_micros(cursor.after),
            ],
            separators=(",", ":"),
        ).encode()
        return f"{urlsafe.encode(body)}.{urlsafe.encode(self._sign(body))}"

    def read(self, token: str, *, query: str, now: datetime, field: str) -> Cursor:
        """The cursor in a token; INVALID_ARGUMENT if forged, altered, reused or expired."""
        try:
            body_text, signature = token.split(".")
            body = urlsafe.decode(body_text)
            if not hmac.compare_digest(urlsafe.decode(signature), self._sign(body)):
                raise ValueError("signature")
            offset, start, end, issued_for, issued_at, after = _checked(json.loads(body))
        except (ValueError, TypeError, binascii.Error, RecursionError):
            raise InvalidArgument.of(
                field, "is not a page token this service issued", reason=Reason.PAGE_TOKEN_INVALID
            ) from None
        if issued_for != query:
            raise InvalidArgument.of(
                field,
                "belongs to a different query; start again without it",
                reason=Reason.PAGE_TOKEN_INVALID,
            )
        if now - from_micros(issued_at) > self._ttl:
            raise InvalidArgument.of(
                field, "has expired; start again without it", reason=Reason.PAGE_TOKEN_EXPIRED
            )
        return Cursor(
            offset=offset,
            window=Window(start=from_micros(start), end=from_micros(end)),
            after=None if after is None else from_micros(after),
        )

    def _sign(self, body: bytes) -> bytes:
        """The signature of a token's body."""
        if callable(self._secret):
            self._secret = self._secret()
        return hmac.new(self._secret, body, hashlib.sha256).digest()[:16]


def _checked(fields: object) -> tuple[int, int, int, str, int, int | None]:
    """A token body's fields, each of the type and in the range an issued token has.

    The signature says the service wrote the body, not that the service was this version or
    had this secret's other users' habits: every field is checked before use all the same.
    """
    if not isinstance(fields, list) or len(fields) != 6:
        raise ValueError("not six fields")
    offset, start, end, issued_for, issued_at, after = fields
    instants = (start, end, issued_at, *(() if after is None else (after,)))
    if not all(type(value) is int for value in (offset, *instants)):
        raise ValueError("not whole numbers")
    if not isinstance(issued_for, str) or not 0 <= offset <= MAX_OFFSET:
        raise ValueError("bad query or offset")
    if not all(EARLIEST_MICROS <= value <= LATEST_MICROS for value in instants) or start >= end:
        raise ValueError("instants out of range")
    return offset, start, end, issued_for, issued_at, after
