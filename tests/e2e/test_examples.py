"""The client examples in other languages, run for real against matcher-server on the sample feed.

Each example calls Match, re-checks the first slot it got with CheckSlots, then sends a latitude
of 95 and reads the google.rpc.ErrorInfo of the refusal; each prints one JSON object a step.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from typing import Any

import pytest

from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e

NODE_EXAMPLE = ROOT / "examples" / "node"
PYTHON_EXAMPLE = ROOT / "examples" / "python" / "client.py"
TIMEOUT_S = 60


def run(argv: list[str]) -> list[dict[str, Any]]:
    """Runs an example to the end; the steps it printed."""
    done = subprocess.run(
        argv, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stderr}"
    return [json.loads(line) for line in done.stdout.splitlines()]


def node_client(address: str) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node, "Node.js is needed: make test installs the example's packages with npm"
    assert (NODE_EXAMPLE / "node_modules").is_dir(), "run `make test` (npm ci in examples/node)"
    return run([node, str(NODE_EXAMPLE / "client.js"), address])


def python_client(address: str) -> list[dict[str, Any]]:
    return run([sys.executable, str(PYTHON_EXAMPLE), address])


@pytest.mark.parametrize("client", [node_client, python_client], ids=["node", "python"])
def test_a_client_matches_checks_a_slot_and_reads_an_error_reason(client, sample_address):
    found, checked, refused = client(sample_address)
    assert found["step"] == "Match"
    assert found["user_timezone"] == "America/Los_Angeles"
    assert found["suppliers"]
    assert found["slot_id"].startswith("s1_")
    assert found["user_local_end"] > found["user_local_start"]
    assert checked == {"step": "CheckSlots", "status": "SLOT_STATUS_BOOKABLE"}
    assert refused == {
        "step": "invalid Match",
        "code": "INVALID_ARGUMENT",
        "domain": "matcher.v1",
        "reason": "FIELD_INVALID",
        "fields": ["location.point.lat"],
    }
