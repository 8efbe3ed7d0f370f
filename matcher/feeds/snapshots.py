"""A sharded snapshot: a directory holding exactly the n shard files of one feed."""

from __future__ import annotations

from pathlib import Path

from matcher.errors import FeedError, FeedRejected
from matcher.feeds.files import CSV_SUFFIXES, Record, file_records
from matcher.feeds.header import Header, header
from matcher.feeds.schema import record_schema

SHARD_SUFFIXES = (".jsonl", ".jsonl.gz", *CSV_SUFFIXES)


def shard_files(directory: Path) -> list[Path]:
    """A snapshot directory's shard files in shard order.

    Raises FeedRejected unless they are exactly the n shards of one snapshot. A file whose
    header cannot be read is left for the full read, which names the problem.
    """
    name = str(directory)
    files = sorted(f for f in directory.iterdir() if f.name.endswith(SHARD_SUFFIXES))
    if not files:
        raise FeedRejected(
            name, [FeedError(path=name, line=0, field="file", reason="holds no shard files")]
        )
    headers = {f: _peek_header(f) for f in files}
    known = {f: h for f, h in headers.items() if h is not None}
    if len(known) < len(files):
        return files
    problems = _shard_problems(name, known)
    if problems:
        raise FeedRejected(name, problems, summary=f"snapshot {name} refused: not all its shards")
    by_index = {h.shard.index: f for f, h in known.items() if h.shard is not None}
    return [by_index[k] for k in sorted(by_index)]


def _peek_header(path: Path) -> Header | None:
    """A file's header, if its first line is a good one."""
    try:
        first = next(iter(file_records(path, None)), None)
        if (
            isinstance(first, Record)
            and first.line == 1
            and first.data.get("record") == "header"
            and not record_schema().problems(first, version=1)
        ):
            return header(first)
    except (FeedError, FeedRejected):
        pass
    return None


def _shard_problems(name: str, headers: dict[Path, Header]) -> list[FeedError]:
    """Why some files are not exactly the n shards of one snapshot (empty if they are)."""
    problems = [
        FeedError(path=str(f), line=1, field="shard", reason="is required in a snapshot directory")
        for f, h in headers.items()
        if h.shard is None
    ]
    sharded = {f: (h, h.shard) for f, h in headers.items() if h.shard is not None}
    if problems or not sharded:
        return problems
    first_file, (first, first_shard) = next(iter(sharded.items()))
    seen: dict[int, Path] = {}
    for f, (found, shard) in sharded.items():
        for field_name, mine, theirs in (
            ("shard.snapshot", shard.snapshot, first_shard.snapshot),
            ("shard.count", shard.count, first_shard.count),
            ("generated_at", found.generated_at, first.generated_at),
        ):
            if mine != theirs:
                problems.append(
                    FeedError(
                        path=str(f),
                        line=1,
                        field=field_name,
                        reason=f"is {mine}, but {first_file.name} has {theirs}",
                    )
                )
        if shard.index in seen:
            problems.append(
                FeedError(
                    path=str(f),
                    line=1,
                    field="shard.index",
                    reason=f"shard {shard.index} is also {seen[shard.index].name}",
                )
            )
        seen[shard.index] = f
    problems.extend(
        FeedError(
            path=name,
            line=0,
            field="shard",
            reason=f"shard {k} of {first_shard.count} of {first_shard.snapshot!r} is missing",
        )
        for k in range(first_shard.count)
        if k not in seen
    )
    return problems
