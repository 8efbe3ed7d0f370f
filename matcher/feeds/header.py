"""A feed file's header: its format version, when it was generated, its CRS, its shard, and
what it declares about the records after it (how many, and their SHA-256)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from matcher.feeds.crs import WGS84, Crs
from matcher.feeds.files import Record
from matcher.feeds.messages import clipped
from matcher.instants import SUPPORTED_RULE, supported


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
    records: int | None = None  # how many records follow, if the header declares it
    sha256: str | None = None  # the hex SHA-256 of every byte after the header line, if declared


def header(record: Record) -> Header:
    """A header that matched the feed schema, with what the schema cannot check checked."""
    if record.line != 1:
        raise record.fail("record", "the header must be the first line")
    data = record.data
    version = int(data["format_version"])  # JSON's 2.0 is the whole number 2
    generated_at = instant(record, "generated_at")
    crs = None
    if version >= 2:
        try:
            crs = Crs(data.get("crs", WGS84))
        except ValueError as exc:
            raise record.fail("crs", str(exc)) from None
    shard = record.nested("shard")
    return Header(
        version,
        generated_at,
        crs,
        shard=shard_of(shard) if shard else None,
        records=int(data["records"]) if "records" in data else None,
        sha256=data.get("sha256"),
    )


def shard_of(record: Record) -> Shard:
    """A header's shard: which of how many, of which snapshot."""
    count, index = int(record.data["count"]), int(record.data["index"])
    if index >= count:
        raise record.fail("index", f"must be from 0 to count - 1 ({count - 1}), got {index}")
    return Shard(snapshot=record.data["snapshot"], index=index, count=count)


def instant(record: Record, name: str) -> datetime:
    """An RFC 3339 instant with an offset (the schema has checked its shape)."""
    text = record.data[name]
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise record.fail(name, f"must be a real RFC 3339 instant, got {clipped(text)}") from None
    if not supported(value):
        raise record.fail(name, f"{SUPPORTED_RULE}, got {clipped(text)}")
    return value
