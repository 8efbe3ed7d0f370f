"""An acknowledged real-time update survives the server being killed outright."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import TINY_FEED, call, grpcurl, launch, wait_until_serving

ADMIN = "matcher.v1.FeedAdminService"


def rfc3339(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.e2e
def test_an_update_acknowledged_just_before_sigkill_is_there_after_restart():
    """The journal is written before UpdateAvailability answers: SIGKILL cannot lose it."""
    day = (datetime.now(UTC) + timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    window = {"start": rfc3339(day), "end": rfc3339(day + timedelta(days=1))}
    first = launch(TINY_FEED)
    try:
        wait_until_serving(first)
        update = {
            "update_id": "sigkill-1",
            "supplier_id": "london-gp",
            "window": window,
            "slots": [{"start": rfc3339(day + timedelta(hours=3)), "minutes": 45}],
        }
        done = grpcurl(first.address, f"{ADMIN}/UpdateAvailability", data=update)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["applied"] is True
        first.process.kill()  # SIGKILL, straight after the acknowledgement
        first.process.wait()
        second = launch(TINY_FEED, "--journal", str(first.journal))
        try:
            wait_until_serving(second)
            listed = call(
                second.address,
                "ListSlots",
                {"supplier_id": "london-gp", "timezone": "UTC", "window": window},
            )
            assert [(s["start"], s["end"]) for s in listed["slots"]] == [
                (rfc3339(day + timedelta(hours=3)), rfc3339(day + timedelta(hours=3, minutes=45)))
            ]
        finally:
            assert second.stop() == 0
            shutil.rmtree(second.journal.parent, ignore_errors=True)
    finally:
        if first.process.poll() is None:  # an assertion failed before the kill
            first.process.kill()
            first.process.wait()
        first.log.unlink(missing_ok=True)
        shutil.rmtree(first.journal.parent, ignore_errors=True)
