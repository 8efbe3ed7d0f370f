"""Instants: the current one, the range slots can be computed for, and exact epoch microseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
#: The instants slots are computed for. Python dates reach years 1 to 9999, but expanding and
#: rendering slots needs the local dates around an instant, which overflow near those ends.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
SUPPORTED_RULE = f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)"


def utc_now() -> datetime:
    """The current instant; callers take it as an injected clock so tests can pin it."""
    return datetime.now(UTC)


def supported(instant: datetime) -> bool:
    """Whether slots can be computed around an instant."""
    return EARLIEST <= instant <= LATEST


def to_micros(instant: datetime) -> int:
    """An aware instant as whole microseconds since the epoch, exactly."""
    return (instant - EPOCH) // MICROSECOND


def from_micros(micros: int) -> datetime:
    """Microseconds since the epoch as an aware UTC instant, exactly."""
    return EPOCH + micros * MICROSECOND
