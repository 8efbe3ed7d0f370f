"""Caller tokens: keys stored only as SHA-256 digests, each with scopes, checked in constant time.

A keys file (or the MATCHER_AUTH_KEYS variable) holds one key per line::

    # <sha256 hex of the token> <scope>[,<scope>...] [expires=YYYY-MM-DD]
    9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 match
    fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9 match,admin expires=2027-06-30

Run ``python -m matcher.auth hash`` to make a token and its line.
"""

from __future__ import annotations

import argparse
import contextlib
import enum
import hashlib
import hmac
import re
import secrets
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

SCOPES = ("match", "admin")
DIGEST = re.compile(r"[0-9a-f]{64}")


class KeysRejected(ValueError):
    """A keys file that cannot be used; names the line, never echoes its content."""


class Decision(enum.Enum):
    """What to do with one call."""

    ALLOW = "ALLOW"
    UNAUTHENTICATED = "UNAUTHENTICATED"  # no token, or not one of ours, or expired
    PERMISSION_DENIED = "PERMISSION_DENIED"  # a good token without the scope the method needs


@dataclass(frozen=True)
class Key:
    """One caller's key: the digest of its token, what it may call, and until when."""

    digest: str
    scopes: frozenset[str]
    expires: date | None = None

    def valid_on(self, day: date) -> bool:
        """Whether the key may be used on this (UTC) day; the expiry day itself still counts."""
        return self.expires is None or day <= self.expires


def digest(token: str) -> str:
    """The SHA-256 hex digest a token is stored as."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse_keys(text: str, *, source: str) -> tuple[Key, ...]:
    """Keys from the lines of a keys file; blank lines and ``#`` comments are skipped."""
    keys = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if words:
            keys.append(_key(words, where=f"{source}:{number}"))
    return tuple(keys)


def load_keys(path: Path) -> tuple[Key, ...]:
    """Keys from a file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeysRejected(f"{path}: {exc.strerror or exc}") from None
    return parse_keys(text, source=str(path))


def _key(words: list[str], *, where: str) -> Key:
    """One key from the words of its line."""
    if len(words) not in (2, 3) or not DIGEST.fullmatch(words[0]):
        raise KeysRejected(f"{where}: expected '<sha256 hex> <scopes> [expires=YYYY-MM-DD]'")
    scopes = frozenset(words[1].split(","))
    if not scopes <= set(SCOPES):
        raise KeysRejected(f"{where}: scopes must be among {', '.join(SCOPES)}")
    return Key(digest=words[0], scopes=scopes, expires=_expiry(words[2:], where=where))


def _expiry(words: list[str], *, where: str) -> date | None:
    """The optional ``expires=YYYY-MM-DD`` word."""
    if not words:
        return None
    name, _, value = words[0].partition("=")
    if name == "expires":
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value)
    raise KeysRejected(f"{where}: the third word must be expires=YYYY-MM-DD")


def bearer(authorization: str | None) -> str | None:
    """The token of an ``authorization: Bearer <token>`` header, if that is what it is."""
    scheme, _, rest = (authorization or "").strip().partition(" ")
    token = rest.strip()
    return token if scheme.lower() == "bearer" and token else None


class Keyring:
    """The keys a server accepts; with none, authentication is off (local development)."""

    def __init__(self, keys: Iterable[Key] = ()) -> None:
        self._keys = tuple(keys)

    @property
    def enabled(self) -> bool:
        """Whether callers must present a token."""
        return bool(self._keys)

    def key_for(self, token: str) -> Key | None:
        """The key a token belongs to: every digest is compared, each in constant time."""
        presented = digest(token)
        found = [k for k in self._keys if hmac.compare_digest(k.digest, presented)]
        return found[0] if found else None

    def caller(self, authorization: str | None, *, today: date) -> Key | None:
        """The valid key an authorization header presents, if it presents one."""
        token = bearer(authorization)
        key = self.key_for(token) if token else None
        return key if key is not None and key.valid_on(today) else None

    def decide(self, *, scope: str | None, authorization: str | None, today: date) -> Decision:
        """Whether a call needing ``scope`` (None: open to anyone) may go ahead with this
        authorization header."""
        return self.check(scope=scope, authorization=authorization, today=today)[0]

    def check(
        self, *, scope: str | None, authorization: str | None, today: date
    ) -> tuple[Decision, Key | None]:
        """``decide``, and the key that was presented when one had to be (None otherwise)."""
        if not self.enabled or scope is None:
            return Decision.ALLOW, None
        key = self.caller(authorization, today=today)
        if key is None:
            return Decision.UNAUTHENTICATED, None
        return (Decision.ALLOW if scope in key.scopes else Decision.PERMISSION_DENIED), key


def key_line(key: Key) -> str:
    """A key as a keys-file line."""
    line = f"{key.digest} {','.join(s for s in SCOPES if s in key.scopes)}"
    return f"{line} expires={key.expires.isoformat()}" if key.expires else line


def main(argv: list[str] | None = None) -> int:
    """``hash``: makes a fresh token, prints it once, and prints or appends its key line."""
    parser = argparse.ArgumentParser(prog="python -m matcher.auth", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("hash", help="generate a token and the key line that accepts it")
    make.add_argument("--scopes", default="match", help="comma-separated, among match,admin")
    make.add_argument("--expires", default=None, help="last valid day, YYYY-MM-DD")
    make.add_argument("--append-to", type=Path, help="append the key line to this keys file")
    args = parser.parse_args(argv)
    token = secrets.token_urlsafe(32)
    words = [digest(token), args.scopes, *([f"expires={args.expires}"] if args.expires else [])]
    try:
        line = key_line(_key(words, where="arguments"))
    except KeysRejected as exc:
        parser.error(str(exc))
    print(token)
    if args.append_to is None:
        print(line)
    else:
        with args.append_to.open("a", encoding="utf-8") as keys:
            keys.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
