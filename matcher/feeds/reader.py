"""Reading a whole feed (docs/feeds.md): a file or a sharded snapshot, checked record by record.

Every problem is reported as file, line, field and reason. A feed is refused whole when its
file or header is broken, or when it rejects a larger share of its records than the caller
allows (by default none), so a bad file never half-replaces a good catalogue.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from matcher.errors import FeedError, FeedRejected
from matcher.feeds import availability, suppliers
from matcher.feeds.acceptance import Feed, accepted
from matcher.feeds.crs import Crs
from matcher.feeds.files import Progress, Record, file_records
from matcher.feeds.header import Header, header
from matcher.feeds.shared import Shared
from matcher.feeds.snapshots import shard_files


@dataclass(slots=True)
class _Draft:
    """A supplier line read: complete once its availability line arrives."""

    path: str
    line: int
    drawn: suppliers.Drawn  # with no availability until its line arrives
    complete: bool = False


def load_feed(
    path: Path, *, max_rejected_share: float = 0.0, progress: Progress | None = None
) -> Feed:
    """Reads and checks a whole feed, leaving bad records out.

    Raises FeedRejected, naming every bad record, when the file or its header is broken or
    when more than ``max_rejected_share`` of the records are bad.
    """
    return accepted(read_feed(path, progress=progress), max_rejected_share=max_rejected_share)


def read_feed(path: Path, *, progress: Progress | None = None) -> Feed:
    """Reads and checks every record, leaving bad ones out (each named in ``rejected``).

    A directory is a sharded snapshot: its shard files, read in shard order as if they were
    one file. Raises FeedRejected only when a file cannot be read, a header is broken, or a
    snapshot is not exactly its n shards.
    """
    with _collector_paused():
        files = shard_files(path) if path.is_dir() else [path]
        reader = _Reader()
        headers = [reader.read(file, progress) for file in files]
        return reader.feed(str(path), headers)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pauses the cycle collector: nearly every object a read allocates lives on, so
    collecting during it only rescans a growing heap (a quarter of the read time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Reader:
    """Reads the files of one feed, in order, into one set of suppliers."""

    def __init__(self) -> None:
        self.errors: list[FeedError] = []
        self.drafts: dict[str, _Draft] = {}
        self.shared = Shared()
        self.records = 0
        self.files: list[str] = []

    def read(self, path: Path, progress: Progress | None) -> Header | None:
        """Reads one file's records; its header, or None if it has no good one."""
        found: Header | None = None
        self.files.append(str(path))
        last_line = 1  # the header's: not a record of the catalogue
        for record in file_records(path, progress):
            if record.line != last_line:  # a CSV row yields two records but counts once
                self.records += 1
                last_line = record.line
            if isinstance(record, FeedError):
                self.errors.append(record)
                continue
            try:
                found = self._take(record, found) or found
            except FeedError as exc:
                self.errors.append(exc)
        return found

    def _take(self, record: Record, current: Header | None) -> Header | None:
        """Adds one record; the header, if the record is one."""
        kind = record.text("record")
        if record.line == 1 and kind != "header":
            raise record.fail("record", "the first line must be the header record")
        if kind == "header":
            return header(record)
        if kind == "supplier":
            self._supplier(record, crs=current.crs if current else None)
        elif kind == "availability":
            self._availability(record, version=current.version if current else 1)
        else:
            raise record.fail("record", f"unknown record type {kind!r}")
        return None

    def _supplier(self, record: Record, *, crs: Crs | None) -> None:
        """Checks a supplier line and keeps it until its availability arrives."""
        supplier_id = record.text("id")
        if supplier_id in self.drafts:
            first = _place(self.drafts[supplier_id], record)
            raise record.fail("id", f"duplicate supplier id {supplier_id!r} (first on {first})")
        drawn = suppliers.supplier(record, self.shared, supplier_id=supplier_id, crs=crs)
        self.drafts[supplier_id] = _Draft(record.path, record.line, drawn)

    def _availability(self, record: Record, *, version: int) -> None:
        """Attaches an availability line to the supplier it names."""
        supplier_id = record.text("supplier_id")
        draft = self.drafts.get(supplier_id)
        if draft is None:
            raise record.fail("supplier_id", f"no supplier {supplier_id!r} earlier in the feed")
        if draft.complete:
            raise record.fail("supplier_id", f"supplier {supplier_id!r} already has availability")
        found = availability.availability(record, self.shared, version=version)
        supplier = replace(draft.drawn.supplier, availability=found)
        draft.drawn = replace(draft.drawn, supplier=supplier)
        draft.complete = True

    def feed(self, name: str, headers: list[Header | None]) -> Feed:
        """The feed of every file read, or FeedRejected if a file or header is broken."""
        errors = self.errors
        for supplier_id, draft in self.drafts.items():
            if not draft.complete:
                errors.append(
                    FeedError(
                        path=draft.path,
                        line=draft.line,
                        field="id",
                        reason=f"supplier {supplier_id!r} has no availability record",
                    )
                )
        first = headers[0]
        if first is None and not errors:
            errors.append(FeedError(path=name, line=1, field="record", reason="the feed is empty"))
        order = {path: k for k, path in enumerate(self.files)}
        errors.sort(key=lambda e: (order.get(e.path, -1), e.line))
        structural = [e for e in errors if e.line <= 1]  # a file as a whole, or its header
        if first is None or structural:
            raise FeedRejected(name, structural or errors)
        complete = [d.drawn for d in self.drafts.values() if d.complete]
        return Feed(
            suppliers=tuple(suppliers.with_circles(complete)),
            generated_at=first.generated_at,
            path=name,
            format_version=first.version,
            records=self.records,
            rejected=tuple(errors),
        )


def _place(draft: _Draft, record: Record) -> str:
    """Where a draft's supplier line is, as seen from another record."""
    return f"line {draft.line}" if draft.path == record.path else f"{draft.path}:{draft.line}"
