"""Reading a whole feed (docs/feeds.md): a file or a sharded snapshot, checked record by record.

Every problem is reported as file, line, field and reason. A feed is refused whole when its
file or header is broken, or when it rejects a larger share of its records than the caller
allows (by default none), so a bad file never half-replaces a good catalogue.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from matcher.errors import FeedError, FeedRejected
from matcher.feeds import availability, suppliers
from matcher.feeds.acceptance import Feed, accepted
from matcher.feeds.crs import Crs
from matcher.feeds.files import Digest, Problems, Progress, Record, file_records
from matcher.feeds.header import Header, header
from matcher.feeds.messages import clipped
from matcher.feeds.placement import Placement
from matcher.feeds.schema import record_schema
from matcher.feeds.shared import Shared
from matcher.feeds.snapshots import shard_files


@dataclass(slots=True)
class _Draft:
    """A supplier line read: complete once its availability line arrives."""

    path: str
    line: int
    drawn: suppliers.Drawn  # with no availability until its line arrives
    #: Where its availability line was (file, line): two references, no tuple per supplier.
    availability_path: str = ""
    availability_line: int = 0

    @property
    def complete(self) -> bool:
        """Whether its availability line has arrived."""
        return self.availability_line > 0


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
        self.schema = record_schema()
        self.placement: Placement | None = None  # once a header says when the feed was made
        self.records = 0
        self.files: list[str] = []
        #: Where each refused supplier or availability record was, by supplier id: what a
        #: record left without its partner is reported with.
        self.refused: dict[tuple[str, str], tuple[str, int]] = {}

    def read(self, path: Path, progress: Progress | None) -> Header | None:
        """Reads one file's records; its header, or None if it has no good one."""
        found: Header | None = None
        self.files.append(str(path))
        digest = Digest()
        last_line, counted = 1, 0  # the header's line is not a record of the catalogue
        for record in file_records(path, progress, digest):
            if record.line != last_line:  # a CSV row yields two records but counts once
                counted += 1
                last_line = record.line
            if isinstance(record, FeedError):
                self.errors.append(record)
                continue
            try:
                taken = self._take(record, found)
            except (FeedError, Problems) as exc:
                self.errors.extend(exc.errors if isinstance(exc, Problems) else [exc])
                self._remember_refused(record)
                continue
            if taken is not None:
                found = taken
                self.placement = self.placement or Placement(since=found.generated_at)
                if found.sha256 is not None:
                    digest.start()
        self.records += counted
        if found is not None:
            self.errors.extend(_declared_problems(str(path), found, counted, digest))
        return found

    def _take(self, record: Record, current: Header | None) -> Header | None:
        """Adds one record; the header, if the record is one."""
        kind = record.data.get("record")
        if record.line == 1 and kind != "header":
            raise record.fail(
                "record", f"the first line must be the header record, got {clipped(kind)}"
            )
        problems = self.schema.problems(record, version=current.version if current else 1)
        if problems:
            raise Problems(problems)
        if kind == "header":
            return header(record)
        if kind == "supplier":
            self._supplier(record, crs=current.crs if current else None)
        else:
            self._availability(record, version=current.version if current else 1)
        return None

    def _supplier(self, record: Record, *, crs: Crs | None) -> None:
        """Checks a supplier line and keeps it until its availability arrives."""
        supplier_id = record.data["id"]
        if supplier_id in self.drafts:
            first = _place(self.drafts[supplier_id], record)
            raise record.fail(
                "id", f"must be unique, got {clipped(supplier_id)} again (first on {first})"
            )
        drawn = suppliers.supplier(record, self.shared, crs=crs)
        if self.placement is not None:
            problem = self.placement.problem(drawn.supplier.location, drawn.supplier.timezone)
            if problem is not None:
                raise record.fail("location", problem)
        self.drafts[supplier_id] = _Draft(record.path, record.line, drawn)

    def _availability(self, record: Record, *, version: int) -> None:
        """Attaches an availability line to the supplier it names."""
        supplier_id = record.data["supplier_id"]
        draft = self.drafts.get(supplier_id)
        if draft is None:
            refused = self.refused.get(("supplier", supplier_id))
            if refused == (record.path, record.line):  # a CSV row, already reported
                return
            if refused is not None:
                raise record.fail(
                    "supplier_id",
                    f"names supplier {clipped(supplier_id)}, whose record"
                    f" ({_where(refused, record.path)}) was rejected: fix that line",
                )
            raise record.fail(
                "supplier_id",
                f"must name a supplier earlier in the feed, got {clipped(supplier_id)}",
            )
        if draft.complete:
            raise record.fail(
                "supplier_id",
                f"must name a supplier once, got {clipped(supplier_id)} again"
                " (its availability is on"
                f" {_where((draft.availability_path, draft.availability_line), record.path)})",
            )
        draft.drawn.availability = availability.availability(record, self.shared, version=version)
        draft.availability_path, draft.availability_line = record.path, record.line

    def _remember_refused(self, record: Record) -> None:
        """Notes a refused supplier or availability record by the supplier id it names."""
        kind = record.data.get("record")
        key = {"supplier": "id", "availability": "supplier_id"}.get(str(kind))
        name = record.data.get(key) if key else None
        if isinstance(kind, str) and isinstance(name, str) and (kind, name) not in self.refused:
            if kind == "supplier" and name in self.drafts:
                return  # a duplicate: the first record of that id stands
            self.refused[(kind, name)] = (record.path, record.line)

    def feed(self, name: str, headers: list[Header | None]) -> Feed:
        """The feed of every file read, or FeedRejected if a file or header is broken."""
        errors = self.errors
        for supplier_id, draft in self.drafts.items():
            refused = self.refused.get(("availability", supplier_id))
            if not draft.complete and refused != (draft.path, draft.line):  # not a CSV row's
                errors.append(_orphan(supplier_id, draft, refused))
        first = headers[0]
        if first is None and not errors:
            errors.append(FeedError(path=name, line=1, field="record", reason="the feed is empty"))
        verdict = self.placement.verdict() if self.placement else None
        if verdict is not None:
            errors.append(FeedError(path=name, line=0, field="location", reason=verdict))
        order = {path: k for k, path in enumerate(self.files)}
        errors.sort(key=lambda e: (order.get(e.path, -1), e.line))
        structural = [e for e in errors if e.line <= 1]  # a file as a whole, or its header
        if first is None:  # no header: its records could not be read as anything
            raise FeedRejected(name, structural or errors)
        if structural:
            cause = structural[0]
            summary = f"feed {name} refused whole: {cause.field}: {cause.reason}"
            raise FeedRejected(name, errors, summary=summary)
        complete = [d.drawn for d in self.drafts.values() if d.complete]
        return Feed(
            suppliers=tuple(suppliers.finished(complete)),
            generated_at=first.generated_at,
            path=name,
            format_version=first.version,
            records=self.records,
            rejected=tuple(errors),
        )


def _declared_problems(path: str, found: Header, counted: int, digest: Digest) -> list[FeedError]:
    """How a file differs from what its header declares about it: record count and SHA-256."""
    problems = []
    if found.records is not None and found.records != counted:
        short = "truncated, or " if counted < found.records else ""
        problems.append(
            FeedError(
                path=path,
                line=1,
                field="records",
                reason=f"must equal the records after the header ({counted}), got"
                f" {found.records}: the file is {short}not the one its header was written for",
            )
        )
    if digest.sha256 is not None and found.sha256 is not None:
        actual = digest.sha256.hexdigest()
        if actual != found.sha256:
            problems.append(
                FeedError(
                    path=path,
                    line=1,
                    field="sha256",
                    reason=f"must equal the SHA-256 of the bytes after the header ({actual}),"
                    f" got {found.sha256}: the file changed after its header was written",
                )
            )
    return problems


def _orphan(supplier_id: str, draft: _Draft, refused: tuple[str, int] | None) -> FeedError:
    """The error for a supplier left without availability: its own, or a rejected one."""
    if refused is not None:
        reason = (
            f"supplier {clipped(supplier_id)} is left out: its availability record"
            f" ({_where(refused, draft.path)}) was rejected"
        )
    else:
        reason = f"must have an availability record, none names {clipped(supplier_id)}"
    return FeedError(path=draft.path, line=draft.line, field="id", reason=reason)


def _where(at: tuple[str, int], seen_from: str) -> str:
    """A record's place, as seen from a record in ``seen_from``."""
    path, line = at
    return f"line {line}" if path == seen_from else f"{path}:{line}"


def _place(draft: _Draft, record: Record) -> str:
    """Where a draft's supplier line is, as seen from another record."""
    return _where((draft.path, draft.line), record.path)
