"""Keeps README's "Running with TLS and tokens" honest: its commands run as written.

Its ```bash blocks are run with two substitutions: ``dev-certs/`` becomes a temporary folder
(filled by the same scripts ``make dev-certs`` runs) and ``localhost:50443`` the test server.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess

import pytest

from tests.e2e.conftest import ROOT
from tests.e2e.serving import PATIENCE_S, running, write_certs, write_protoset

pytestmark = pytest.mark.e2e

TITLE = "## Running with TLS and tokens"
ADDRESS = "localhost:50443"
#: What the README says of its calls, in order: success, a refusal, or no connection at all.
OUTCOMES = ["ok", "ok", "ok", "Unauthenticated", "Unauthenticated", "no connection"]


def section() -> str:
    """The section's text, up to the next heading."""
    text = (ROOT / "README.md").read_text()
    start = text.index(TITLE) + len(TITLE)
    following = text.find("\n## ", start)
    return text[start : following if following >= 0 else None]


def bash_blocks() -> list[list[str]]:
    """The lines of each ```bash block of the section."""
    blocks = re.finditer(r"^```bash\n(.*?)^```", section(), re.M | re.S)
    return [m.group(1).splitlines() for m in blocks]


SETUP, CALLS, MUTUAL = bash_blocks()


@pytest.fixture(scope="module")
def dev_certs(tmp_path_factory):
    """What ``make dev-certs`` makes, in a folder of its own."""
    out = tmp_path_factory.mktemp("readme") / "dev-certs"
    write_certs(out)
    write_protoset(out / "matcher.protoset")
    return out


def localised(line: str, dev_certs, target: str = ADDRESS) -> str:
    return line.replace("dev-certs/", f"{dev_certs}/").replace(ADDRESS, target)


def bash(line: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", line],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=PATIENCE_S,
        check=False,
    )


@pytest.fixture(scope="module")
def token(dev_certs):
    """The token the README's second set-up line makes, keyed in the keys file."""
    assert SETUP[0] == "make dev-certs"
    made = bash(localised(SETUP[1], dev_certs) + ' && printf %s "$TOKEN"')
    assert made.returncode == 0, made.stderr
    return made.stdout


def server_args(dev_certs, *extra: str) -> list[str]:
    """The README's server flags, less --address (the test server picks a free port)."""
    words = shlex.split(localised(SETUP[2].rstrip(" &"), dev_certs))
    assert words[:1] == [".venv/bin/matcher-server"]
    at = words.index("--address")
    return words[2:at] + words[at + 2 :] + list(extra)


def test_the_readme_calls_succeed_or_fail_as_it_says(dev_certs, token):
    assert len(CALLS) == len(OUTCOMES)
    with running(server_args(dev_certs)) as server:
        for line, outcome in zip(CALLS, OUTCOMES, strict=True):
            done = bash(localised(line, dev_certs, server.target), TOKEN=token)
            assert (done.returncode == 0) == (outcome == "ok"), f"{line}\n{done.stderr}"
            if outcome == "Unauthenticated":
                assert outcome in done.stderr, done.stderr


def test_the_readme_mutual_tls_call_succeeds_with_the_client_certificate(dev_certs, token):
    flag = re.search(r"`(--tls-client-ca [^`]+)`", section())
    assert flag
    extra = shlex.split(localised(flag.group(1), dev_certs))
    with running(server_args(dev_certs, *extra)) as server:
        (line,) = MUTUAL
        done = bash(localised(line, dev_certs, server.target), TOKEN=token)
        assert done.returncode == 0, done.stderr
        without_cert = re.sub(
            r" -cert \S+ -key \S+", " -connect-timeout 3", localised(line, dev_certs, server.target)
        )
        assert bash(without_cert, TOKEN=token).returncode != 0
