"""A feed file's header: its format version, when it was generated, its CRS and its shard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from matcher.feeds.crs import WGS84, Crs
from matcher.feeds.files import Record

FORMAT_VERSIONS = (1, 2)


@dataclass(frozen=True)
class Shard:
    """Which part of a sharded snapshot a file is."""

    snapshot: str
    index: int  # 0 to count - 1
    count: int


@dataclass(frozen=True)
class Header:
    """What the header says about the records after it."""

    version: int
    generated_at: datetime
    crs: Crs | None  # None in version 1, whose coordinates are lat/lng degrees
    shard: Shard | None = None


def header(record: Record) -> Header:
    """The header's format version, generation time and (from version 2) CRS."""
    if record.line != 1:
        raise record.fail("record", "the header must be the first line")
    version = record.get("format_version", int)
    if version not in FORMAT_VERSIONS:
        raise record.fail("format_version", f"must be 1 or 2, got {version}")
    generated_at = instant(record, "generated_at")
    if version == 1:
        for name in ("crs", "shard"):
            if name in record.data:
                raise record.fail(name, "needs format_version 2")
        return Header(version, generated_at, crs=None)
    try:
        crs = Crs(record.get("crs", str, required=False) or WGS84)
    except ValueError as exc:
        raise record.fail("crs", str(exc)) from None
    shard = record.nested("shard", required=False)
    return Header(version, generated_at, crs, shard=shard_of(shard) if shard else None)


def shard_of(record: Record) -> Shard:
    """A header's shard: which of how many, of which snapshot."""
    count = record.get("count", int)
    if count < 1:
        raise record.fail("count", "must be at least 1")
    index = record.get("index", int)
    if not 0 <= index < count:
        raise record.fail("index", f"must be in [0, {count - 1}], got {index}")
    return Shard(snapshot=record.text("snapshot"), index=index, count=count)


def instant(record: Record, name: str) -> datetime:
    """An RFC 3339 instant with an offset."""
    text = record.text(name)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise record.fail(name, f"must be an RFC 3339 timestamp, got {text!r}") from None
    if value.tzinfo is None:
        raise record.fail(name, "must carry a UTC offset, e.g. 2026-11-25T00:00:00Z")
    return value
