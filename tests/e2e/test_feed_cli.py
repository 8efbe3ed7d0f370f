"""The installed matcher-feed console script, run as operators run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TINY_FEED
from tests.unit.test_strict_feeds import SWAPPED_CSV

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


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_the_console_script_refuses_swapped_coordinates(tmp_path, as_json):
    """The issue's own case: a CSV with x and y swapped, refused whole with both zones named."""
    path = tmp_path / "swapped.csv"
    path.write_text(SWAPPED_CSV)
    done = subprocess.run(
        [str(MATCHER_FEED), "validate", str(path), *(["--json"] if as_json else [])],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    if as_json:
        report = json.loads(done.stdout)
        assert report["verdict"] == "refused"
        assert report["problems"][0]["reason"].endswith(
            "did you swap x and y (lat and lng), or declare the wrong crs?"
        )
    else:
        assert f"{path}:3: location: must lie in its timezone Europe/Berlin" in done.stdout
