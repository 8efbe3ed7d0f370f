"""Keeps README.md honest: every grpcurl command it shows runs against the sample feed.

Each line of a ```sh block that starts with ``.venv/bin/grpcurl`` (with any continuation lines,
e.g. a multi-line quoted JSON body) is run as written, except that ``localhost:50051`` becomes a
test server serving data/suppliers.jsonl. Every command must succeed, except the one documented
invalid request (the one with ``-format-error``), which must fail with INVALID_ARGUMENT.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess

import pytest

from tests.e2e.conftest import CALL_TIMEOUT_S, GRPCURL, ROOT, field_violations

pytestmark = pytest.mark.e2e

README = ROOT / "README.md"
PROGRAM = ".venv/bin/grpcurl"
DOCUMENTED_ADDRESS = "localhost:50051"
INVALID_ARGUMENT = 3


def sh_blocks(text: str) -> list[list[str]]:
    """The lines of every ```sh fenced block."""
    return [m.group(1).splitlines() for m in re.finditer(r"^```sh\n(.*?)^```", text, re.M | re.S)]


def readme_commands() -> list[str]:
    """Every grpcurl command in the README's sh blocks, continuation lines joined."""
    commands = []
    for block in sh_blocks(README.read_text()):
        pending: list[str] = []
        for line in block:
            if not pending and not line.startswith(PROGRAM):
                continue
            pending.append(line)
            text = "\n".join(pending)
            if text.endswith("\\"):
                continue
            try:
                shlex.split(text)
            except ValueError:  # an open quote: the command goes on
                continue
            commands.append(text)
            pending = []
        assert not pending, f"unterminated command in README.md: {pending}"
    return commands


COMMANDS = readme_commands()


def label(command: str) -> str:
    """A short test id: the verb or method, and what it describes."""
    words, kept = shlex.split(command)[1:], []
    for before, word in zip(["", *words], words, strict=False):
        if not word.startswith("-") and before != "-d" and word != DOCUMENTED_ADDRESS:
            kept.append(word.rsplit("/", 1)[-1])
    return "-".join(kept)


def expected_to_fail(command: str) -> bool:
    return "-format-error" in shlex.split(command)


def test_readme_shows_every_rpc() -> None:
    shown = " ".join(COMMANDS)
    for needle in (
        " list",
        " describe ",
        "grpc.health.v1.Health/Check",
        "/ResolveTimezone",
        "/Match",
        "/GetSupplier",
        "/ListSlots",
        "/CheckSlots",
        "/ListFilterValues",
    ):
        assert needle in shown, f"README.md has no grpcurl example with {needle.strip()!r}"
    assert sum(expected_to_fail(c) for c in COMMANDS) == 1, "one invalid-request example"


@pytest.mark.parametrize(
    "command", COMMANDS, ids=[f"{k:02d}-{label(c)}" for k, c in enumerate(COMMANDS)]
)
def test_readme_command_runs(command: str, sample_address: str) -> None:
    words = shlex.split(command)
    assert words[0] == PROGRAM
    assert DOCUMENTED_ADDRESS in words, f"the README example does not call {DOCUMENTED_ADDRESS}"
    argv = [str(GRPCURL)] + [sample_address if w == DOCUMENTED_ADDRESS else w for w in words[1:]]
    done = subprocess.run(
        argv, cwd=ROOT, capture_output=True, text=True, timeout=CALL_TIMEOUT_S, check=False
    )
    if expected_to_fail(command):
        assert done.returncode == 64 + INVALID_ARGUMENT, (done.returncode, done.stderr)
        status = json.loads(done.stderr)
        assert status["code"] == INVALID_ARGUMENT
        assert field_violations(status), status
        return
    assert done.returncode == 0, f"{command}\nexit {done.returncode}: {done.stderr}"
    assert done.stdout.strip()
    method = words[-1].rsplit("/", 1)[-1]
    if method == "Match":
        assert json.loads(done.stdout).get("matches"), f"{command}\nfound nothing"
    elif method == "ListSlots":
        listed = json.loads(done.stdout)
        assert listed.get("slots") or listed.get("days"), f"{command}\nlisted no slots"
