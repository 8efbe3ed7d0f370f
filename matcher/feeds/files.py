"""A feed file as a stream of records, each located by file and line for error reports.

Plain or gzipped (``.gz``), JSON Lines or CSV: every data line becomes a Record (a CSV row
becomes two) or the FeedError that makes it unreadable.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from matcher.errors import FeedError, FeedRejected
from matcher.feeds.csv_rows import CsvLayout
from matcher.feeds.messages import clipped, syntax_error

#: Called now and then while a feed file is read, with (the file, bytes read, bytes in it).
Progress = Callable[[str, int, int], None]
#: Lines read between two progress calls.
PROGRESS_EVERY = 1 << 16
CSV_SUFFIXES = (".csv", ".csv.gz")


@dataclass(slots=True)
class Record:
    """One JSON object of a feed, with helpers that name the field and line of any problem.

    Its shape has been checked against the feed schema before any code reads its fields.
    """

    data: dict[str, Any]
    path: str
    line: int
    prefix: str = ""

    def fail(self, name: str, reason: str) -> FeedError:
        """An error located at this record's field."""
        return FeedError(path=self.path, line=self.line, field=self.prefix + name, reason=reason)

    def nested(self, name: str) -> Record | None:
        """A nested object as a Record whose field names carry this one as a prefix."""
        value = self.data.get(name)
        if value is None:
            return None
        return Record(value, self.path, self.line, f"{self.prefix}{name}.")

    def items(self, name: str) -> Iterator[Record]:
        """The objects of a list field, each as a Record."""
        for k, value in enumerate(self.data.get(name) or ()):
            yield Record(value, self.path, self.line, f"{self.prefix}{name}[{k}].")


class Problems(Exception):
    """Every problem found with one record, when there is more than one to report."""

    def __init__(self, errors: list[FeedError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


class Digest:
    """The SHA-256 of a file's bytes after its header line, once a reader asks for it."""

    def __init__(self) -> None:
        self.sha256: hashlib._Hash | None = None

    def start(self) -> None:
        """Hashes every line read from now on."""
        self.sha256 = hashlib.sha256()


def file_records(
    path: Path, progress: Progress | None = None, digest: Digest | None = None
) -> Iterator[Record | FeedError]:
    """Each non-blank line as a Record, or as the FeedError that makes it unreadable.

    Once ``digest`` is started (by a reader that found a SHA-256 in the header), every line read
    after that, blank ones included, goes into it as written.

    A file that cannot be opened, or read to its end (a truncated or corrupt gzip stream),
    raises FeedRejected: what is missing cannot be named.
    """
    name = str(path)
    try:
        raw = path.open("rb")
        size = os.fstat(raw.fileno()).st_size
    except OSError as exc:
        raise FeedRejected(
            name, [FeedError(path=name, line=0, field="file", reason=exc.strerror or str(exc))]
        ) from exc
    number = 0
    rows = _CsvRows(name) if name.endswith(CSV_SUFFIXES) else None
    with raw, _decompressed(path, raw) as lines:
        try:
            for number, line in enumerate(lines, start=1):
                if progress is not None and number % PROGRESS_EVERY == 0:
                    progress(name, raw.tell(), size)
                if digest is not None and digest.sha256 is not None:
                    digest.sha256.update(line)
                if not line.strip():
                    continue
                if rows is None or number == 1:
                    yield _parsed(line, path=name, line=number)
                else:
                    yield from rows.records(line, number)
        except (OSError, EOFError, zlib.error) as exc:
            where = f"after line {number}" if number else "at its start"
            raise FeedRejected(
                name,
                [
                    FeedError(
                        path=name,
                        line=number + 1,
                        field="file",
                        reason=f"cannot be read {where}: {exc}",
                    )
                ],
            ) from exc
    if progress is not None:
        progress(name, size, size)


class _CsvRows:
    """The lines after a CSV feed's header: its column names, then one supplier per row."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._layout: CsvLayout | None = None

    def records(self, raw: bytes, line: int) -> Iterator[Record | FeedError]:
        """A row's supplier and availability records, or the FeedError that stops them."""
        if self._layout is None:
            self._layout = self._columns(raw, line)
            return
        try:
            supplier, availability = self._layout.records(raw, line=line)
        except FeedError as exc:
            yield exc
            return
        yield Record(supplier, self._path, line)
        yield Record(availability, self._path, line)

    def _columns(self, raw: bytes, line: int) -> CsvLayout:
        """The column names; FeedRejected if they are bad, since no row could be read."""
        try:
            return CsvLayout(raw, path=self._path, line=line)
        except FeedError as exc:
            raise FeedRejected(self._path, [exc]) from None


def _decompressed(path: Path, raw: BinaryIO) -> AbstractContextManager[Iterable[bytes]]:
    """The file's lines: gunzipped when its name ends in .gz."""
    if path.suffix == ".gz":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    return nullcontext(raw)


def _parsed(raw: bytes, *, path: str, line: int) -> Record | FeedError:
    """One line as a Record, or what makes it unreadable (strict JSON: no NaN or Infinity)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return FeedError(path=path, line=line, field="json", reason=syntax_error(exc, raw))
    if not isinstance(data, dict):
        return FeedError(
            path=path,
            line=line,
            field="json",
            reason=f"must be a JSON object (one record), got {clipped(data)}",
        )
    return Record(data, path, line)
