"""Tamper-evident page tokens: a signed cursor bound to the query that issued it."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from matcher.errors import InvalidArgument
from matcher.slots import Window


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts, and the window the first page fixed."""

    offset: int
    window: Window


def fingerprint(*parts: object) -> str:
    """A short digest of the query fields a token must stay bound to."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


class PageTokens:
    """Issues and checks page tokens signed with HMAC-SHA256 under a server secret."""

    def __init__(self, secret: bytes, *, ttl: timedelta = timedelta(hours=1)) -> None:
        self._secret = secret
        self._ttl = ttl

    def issue(self, cursor: Cursor, *, query: str, now: datetime) -> str:
        """A token for the page after this one."""
        body = json.dumps(
            [
                cursor.offset,
                _epoch(cursor.window.start),
                _epoch(cursor.window.end),
                query,
                _epoch(now),
            ],
            separators=(",", ":"),
        ).encode()
        return f"{_b64(body)}.{_b64(self._sign(body))}"

    def read(self, token: str, *, query: str, now: datetime, field: str = "page_token") -> Cursor:
        """The cursor in a token; INVALID_ARGUMENT if forged, altered, reused or expired."""
        try:
            body_text, signature = token.split(".")
            body = _unb64(body_text)
            if not hmac.compare_digest(_unb64(signature), self._sign(body)):
                raise ValueError("signature")
            offset, start, end, issued_for, issued_at = json.loads(body)
        except (ValueError, TypeError, binascii.Error):
            raise InvalidArgument.of(field, "is not a page token this service issued") from None
        if issued_for != query:
            raise InvalidArgument.of(field, "belongs to a different query; start again without it")
        if now - _instant(issued_at) > self._ttl:
            raise InvalidArgument.of(field, "has expired; start again without it")
        return Cursor(offset=int(offset), window=Window(start=_instant(start), end=_instant(end)))

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()[:16]


def _epoch(instant: datetime) -> int:
    return int(instant.timestamp() * 1_000_000)


def _instant(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
