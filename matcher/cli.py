"""matcher-feed: checks a supplier feed (validate) or also builds its catalogue and times it (load).

Reports counts and every rejected record as file:line, field and reason, as text or --json.
Exit status: 0 the feed is acceptable, 1 it is refused, 2 a usage error or an unreadable file.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from matcher.engine.catalog import Catalog
from matcher.errors import FeedError, FeedRejected
from matcher.feeds import Feed, accepted, read_feed
from matcher.settings import Settings, add_arguments, command_parser

ACCEPTABLE, REFUSED, UNUSABLE = 0, 1, 2


@dataclass
class Report:
    """What checking (and perhaps loading) one feed found."""

    path: str
    max_rejected_share: float
    feed: Feed | None = None  # None when the file or its header is broken
    refusal: FeedRejected | None = None
    problems: list[FeedError] = field(default_factory=list)  # every one, in line order
    seconds: dict[str, float] = field(default_factory=dict)  # by stage: read, index

    @property
    def exit_code(self) -> int:
        """0 acceptable, 1 refused, 2 the file cannot be read."""
        if self.refusal is None:
            return ACCEPTABLE
        unreadable = any(e.line == 0 and e.field == "file" for e in self.refusal.errors)
        return UNUSABLE if unreadable else REFUSED


class ProgressLine:
    """Writes how far a read has got to a stream, once per tenth of each file."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._file = ""
        self._shown = -1

    def __call__(self, file: str, done: int, total: int) -> None:
        """Reports progress when another tenth of a file is done."""
        if file != self._file:  # the next shard of a snapshot
            self._file, self._shown = file, -1
        tenth = done * 10 // total if total else 10
        if tenth > self._shown:
            self._shown = tenth
            self.say(f"reading {file}: {tenth * 10}%")

    def say(self, text: str) -> None:
        """Writes one line of progress."""
        print(text, file=self._stream, flush=True)


def examine(
    path: Path, *, build: bool, max_rejected_share: float, progress: ProgressLine | None = None
) -> Report:
    """Reads and checks a feed and, if ``build`` and it is acceptable, indexes its catalogue."""
    report = Report(path=str(path), max_rejected_share=max_rejected_share)
    started = time.perf_counter()
    try:
        report.feed = read_feed(path, progress=progress)
        report.problems = list(report.feed.rejected)
        accepted(report.feed, max_rejected_share=max_rejected_share)
    except FeedRejected as exc:
        report.refusal = exc
        report.problems = exc.errors
    report.seconds["read"] = time.perf_counter() - started
    if build and report.refusal is None:
        assert report.feed is not None
        if progress is not None:
            progress.say(f"indexing {len(report.feed.suppliers)} suppliers")
        started = time.perf_counter()
        Catalog(report.feed.suppliers)
        report.seconds["index"] = time.perf_counter() - started
    return report


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def as_json(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data."""
    feed = report.feed
    return {
        "path": report.path,
        "verdict": "refused" if report.refusal else "acceptable",
        "reason": report.refusal.summary if report.refusal else "",
        "format_version": feed.format_version if feed else None,
        "generated_at": feed.generated_at.isoformat() if feed else None,
        "records": feed.records if feed else None,
        "suppliers": len(feed.suppliers) if feed else None,
        "rejected_records": feed.rejected_records if feed else None,
        "rejected_share": feed.rejected_share if feed else None,
        "max_rejected_share": report.max_rejected_share,
        "seconds": {stage: round(s, 3) for stage, s in report.seconds.items()},
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "problems": [
            {"path": e.path, "line": e.line, "field": e.field, "reason": e.reason}
            for e in report.problems
        ],
    }


def as_text(report: Report) -> str:
    """The report for people: a verdict, counts, timings, then every problem on its own line."""
    lines = [f"{report.path}: {'refused' if report.refusal else 'acceptable'}"]
    if report.refusal:
        lines.append(f"  {report.refusal.summary}")
    feed = report.feed
    if feed is not None:
        lines.append(
            f"  format version {feed.format_version}, generated at {feed.generated_at.isoformat()}"
        )
        lines.append(
            f"  {feed.records} records, {len(feed.suppliers)} suppliers,"
            f" {feed.rejected_records} rejected ({feed.rejected_share:.2%};"
            f" up to {report.max_rejected_share:.2%} allowed)"
        )
    timings = ", ".join(f"{stage} {s:.2f} s" for stage, s in report.seconds.items())
    lines.append(f"  {timings}, peak RSS {peak_rss_mib():.0f} MiB")
    lines.extend(str(e) for e in report.problems)
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options; the threshold falls back to MATCHER_MAX_REJECTED_SHARE."""
    parser = command_parser(prog="matcher-feed", description=__doc__ or "")
    parser.add_argument(
        "command",
        choices=("validate", "load"),
        help="validate: read and check; load: also build the catalogue and time it",
    )
    parser.add_argument("feed", type=Path, help="a JSON Lines or CSV feed, or a snapshot")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    add_arguments(parser, Settings, env=os.environ, only={"max_rejected_share"})
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Checks one feed, prints the report to stdout and progress to stderr."""
    args = parse_args(argv)
    report = examine(
        args.feed,
        build=args.command == "load",
        max_rejected_share=args.max_rejected_share,
        progress=ProgressLine(sys.stderr),
    )
    print(json.dumps(as_json(report), indent=2) if args.json else as_text(report))
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
