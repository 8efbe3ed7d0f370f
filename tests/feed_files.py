"""Writing small feeds for tests: the tiny feed, tagged so two versions tell apart, or broken."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pyproj import Transformer

from tests.conftest import TINY_FEED

Record = dict[str, Any]


def tiny_records() -> list[Record]:
    """The tiny feed's records, header first."""
    return [json.loads(line) for line in TINY_FEED.read_text().splitlines() if line.strip()]


def tagged(tag: str, *, generated_at: str = "2026-11-20T00:00:00Z") -> list[Record]:
    """The tiny feed with every supplier's name ending in ``[tag]``."""
    records = tiny_records()
    records[0]["generated_at"] = generated_at
    for record in records:
        if record["record"] == "supplier":
            record["name"] = f"{record['name']} [{tag}]"
    return records


def version_2(records, *, crs: str | None = None):
    """The records as version 2: locations as x/y (and rings) in ``crs``, WGS84 by default."""
    to_crs = Transformer.from_crs("EPSG:4326", crs or "EPSG:4326", always_xy=True)
    records[0]["format_version"] = 2
    if crs:
        records[0]["crs"] = crs
    for record in records:
        if record["record"] != "supplier":
            continue
        location = record.pop("location")
        x, y = to_crs.transform(location["lng"], location["lat"])
        record["location"] = {"x": x, "y": y}
        area = record.get("service_area", {})
        if "polygon" in area:
            area["polygon"] = [list(to_crs.transform(lng, lat)) for lng, lat in area["polygon"]]
    return records


def write_feed(path: Path, records: Iterable[Record]) -> Path:
    """Writes records as JSON Lines, replacing the file whole as an operator would (rename)."""
    staged = path.with_suffix(".staged")
    staged.write_text("".join(json.dumps(r) + "\n" for r in records))
    staged.replace(path)
    return path


def write_snapshot(directory, records, *, snapshot="2026-11-20", count=3, skip=()):
    """The records as ``count`` shard files, their lines dealt out in order; ``skip`` omits some."""
    directory.mkdir(exist_ok=True)
    header, body = records[0], records[1:]
    size = -(-len(body) // count)
    for k in range(count):
        if k in skip:
            continue
        shard_header = {**header, "shard": {"snapshot": snapshot, "index": k, "count": count}}
        write_feed(directory / f"part-{k}.jsonl", [shard_header, *body[k * size : (k + 1) * size]])
    return directory


def tag_of(name: str) -> str:
    """The ``[tag]`` a tagged supplier name ends in."""
    return name.rsplit("[", 1)[1].rstrip("]")
