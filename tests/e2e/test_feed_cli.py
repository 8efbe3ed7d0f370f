"""The installed matcher-feed console script, run as operators run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TINY_FEED

pytestmark = pytest.mark.e2e
MATCHER_FEED = Path(sys.executable).parent / "matcher-feed"


def test_the_console_script_validates_a_feed():
    done = subprocess.run(
        [str(MATCHER_FEED), "validate", str(TINY_FEED)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{TINY_FEED}: acceptable")
