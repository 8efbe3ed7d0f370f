"""Caller keys: parsing, constant-time token checks, expiry and the scope each method needs."""

from __future__ import annotations

from datetime import date

import pytest

from matcher import auth
from matcher.auth import Decision, Key, Keyring, KeysRejected, bearer, digest, parse_keys

MATCH = "match"  # the scope each kind of method needs (matcher_api.interceptors.required_scope)
ADMIN = "admin"
HEALTH = None
TODAY = date(2027, 3, 1)


def ring(*lines: str) -> Keyring:
    return Keyring(parse_keys("\n".join(lines), source="test"))


def decide(keyring: Keyring, scope: str | None, header: str | None) -> Decision:
    return keyring.decide(scope=scope, authorization=header, today=TODAY)


def test_a_key_line_holds_the_digest_scopes_and_optional_expiry():
    text = "\n".join(
        [
            "# comment",
            "",
            f"{digest('a')} match  # trailing",
            f"{digest('b')} admin,match expires=2027-06-30",
        ]
    )
    assert parse_keys(text, source="keys") == (
        Key(digest=digest("a"), scopes=frozenset({"match"})),
        Key(digest=digest("b"), scopes=frozenset({"match", "admin"}), expires=date(2027, 6, 30)),
    )


def test_a_comment_may_say_anything():
    text = f"# rotated monthly; ask ops\n{digest('a')} match # the mobile backend; since 2026"
    assert len(parse_keys(text, source="keys")) == 1


@pytest.mark.parametrize(
    "line",
    [
        "s3cret match",  # a plaintext token where the digest belongs
        f"{digest('a')}",
        f"{digest('a')} read",
        f"{digest('a')} match until=2027-01-01",
        f"{digest('a')} match expires=tomorrow",
        f"{digest('a').upper()} match",
        f"{digest('a')} match expires=2027-01-01 extra",
    ],
)
def test_a_bad_key_line_is_refused_by_line_number_without_echoing_it(line):
    with pytest.raises(KeysRejected) as caught:
        parse_keys(f"{digest('ok')} match\n{line}", source="keys.txt")
    assert str(caught.value).startswith("keys.txt:2: ")
    assert line.split()[0] not in str(caught.value)


def test_a_missing_keys_file_is_refused(tmp_path):
    with pytest.raises(KeysRejected):
        auth.load_keys(tmp_path / "absent.txt")


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer   abc ", "abc"),
        ("Basic abc", None),
        ("Bearer ", None),
        ("abc", None),
        (None, None),
    ],
)
def test_only_a_bearer_header_yields_a_token(header, token):
    assert bearer(header) == token


def test_without_keys_authentication_is_off():
    assert not Keyring().enabled
    assert decide(Keyring(), ADMIN, None) is Decision.ALLOW


def test_a_token_is_accepted_only_for_the_scopes_of_its_key():
    keyring = ring(f"{digest('user')} match", f"{digest('ops')} admin")
    assert decide(keyring, MATCH, "Bearer user") is Decision.ALLOW
    assert decide(keyring, ADMIN, "Bearer user") is Decision.PERMISSION_DENIED
    assert decide(keyring, ADMIN, "Bearer ops") is Decision.ALLOW
    assert decide(keyring, MATCH, "Bearer ops") is Decision.PERMISSION_DENIED


@pytest.mark.parametrize("header", [None, "", "Bearer wrong", "Bearer " + digest("user"), "user"])
def test_a_missing_or_unknown_token_is_unauthenticated(header):
    keyring = ring(f"{digest('user')} match")
    assert decide(keyring, MATCH, header) is Decision.UNAUTHENTICATED


def test_health_checks_need_no_token_even_with_keys():
    assert decide(ring(f"{digest('user')} match"), HEALTH, None) is Decision.ALLOW


@pytest.mark.parametrize(
    ("expires", "decision"), [("2027-03-01", "ALLOW"), ("2027-02-28", "UNAUTHENTICATED")]
)
def test_a_key_works_through_its_expiry_day_and_not_after(expires, decision):
    keyring = ring(f"{digest('user')} match expires={expires}")
    assert decide(keyring, MATCH, "Bearer user") is Decision(decision)


def test_hash_prints_a_fresh_token_and_the_line_that_accepts_it(capsys):
    assert auth.main(["hash", "--scopes", "match,admin", "--expires", "2027-06-30"]) == 0
    token, line = capsys.readouterr().out.splitlines()
    keyring = Keyring(parse_keys(line, source="printed"))
    assert line.endswith(" match,admin expires=2027-06-30")
    assert decide(keyring, ADMIN, f"Bearer {token}") is Decision.ALLOW


def test_hash_can_append_the_line_to_a_keys_file_and_print_only_the_token(tmp_path, capsys):
    keys = tmp_path / "keys.txt"
    for _ in range(2):
        auth.main(["hash", "--append-to", str(keys)])
    tokens = capsys.readouterr().out.split()
    keyring = Keyring(auth.load_keys(keys))
    assert len(set(tokens)) == 2
    assert all(decide(keyring, MATCH, f"Bearer {t}") is Decision.ALLOW for t in tokens)
    assert not any(t in keys.read_text() for t in tokens)


def test_hash_refuses_an_unknown_scope():
    with pytest.raises(SystemExit):
        auth.main(["hash", "--scopes", "everything"])
