"""A feed file as a stream of records, each located by file and line for error reports.

Plain or gzipped (``.gz``), JSON Lines or CSV: every data line becomes a Record (a CSV row
becomes two) or the FeedError that makes it unreadable.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from matcher.errors import FeedError, FeedRejected
from matcher.feeds.csv_rows import CsvLayout

#: Called now and then while a feed file is read, with (the file, bytes read, bytes in it).
Progress = Callable[[str, int, int], None]
#: Lines read between two progress calls.
PROGRESS_EVERY = 1 << 16
CSV_SUFFIXES = (".csv", ".csv.gz")


@dataclass
class Record:
    """One JSON object of a feed, with helpers that name the field and line of any problem."""

    data: dict[str, Any]
    path: str
    line: int
    prefix: str = ""

    def fail(self, name: str, reason: str) -> FeedError:
        """An error located at this record's field."""
        return FeedError(path=self.path, line=self.line, field=self.prefix + name, reason=reason)

    def get(self, name: str, kind: type | tuple[type, ...], *, required: bool = True) -> Any:
        """A field of a given JSON type; booleans never pass for numbers."""
        value = self.data.get(name)
        if value is None:
            if required:
                raise self.fail(name, "is required")
            return None
        if isinstance(value, kind) and not isinstance(value, bool):
            return value
        if isinstance(value, bool) and bool not in _as_tuple(kind):
            raise self.fail(name, f"must be {_kind_name(kind)}, not a boolean")
        if not isinstance(value, kind):
            raise self.fail(name, f"must be {_kind_name(kind)}, not {type(value).__name__}")
        return value

    def text(self, name: str) -> str:
        """A non-empty string field."""
        value: str = self.get(name, str)
        if not value.strip():
            raise self.fail(name, "must not be empty")
        return value

    def number(self, name: str, *, low: float, high: float) -> float:
        """A finite number within [low, high]."""
        raw = self.get(name, (int, float))
        try:
            value = float(raw)
        except OverflowError:  # an integer literal too large for a float
            value = math.inf if raw > 0 else -math.inf
        if not math.isfinite(value) or not low <= value <= high:
            raise self.fail(name, f"must be a finite number in [{low:g}, {high:g}], got {value!r}")
        return value

    def strings(self, name: str, *, required: bool = True) -> tuple[str, ...]:
        """A list of non-empty strings."""
        values = self.get(name, list, required=required) or []
        for k, value in enumerate(values):
            if not isinstance(value, str) or not value.strip():
                raise self.fail(f"{name}[{k}]", "must be a non-empty string")
        return tuple(values)

    def nested(self, name: str, *, required: bool = True) -> Record | None:
        """A nested object as a Record whose field names carry this one as a prefix."""
        value = self.get(name, dict, required=required)
        if value is None:
            return None
        return Record(value, self.path, self.line, f"{self.prefix}{name}.")

    def items(self, name: str) -> Iterator[Record]:
        """The objects of a list field, each as a Record."""
        for k, value in enumerate(self.get(name, list, required=False) or []):
            if not isinstance(value, dict):
                raise self.fail(f"{name}[{k}]", "must be an object")
            yield Record(value, self.path, self.line, f"{self.prefix}{name}[{k}].")


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "a number", float: "a number", list: "a list", dict: "an object"}
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in _as_tuple(kind)))


def file_records(path: Path, progress: Progress | None = None) -> Iterator[Record | FeedError]:
    """Each non-blank line as a Record, or as the FeedError that makes it unreadable.

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
    """One line as a Record, or what makes it unreadable."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return FeedError(path=path, line=line, field="json", reason="is not valid UTF-8")
    except ValueError as exc:  # also an integer literal beyond Python's digit limit
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        return FeedError(path=path, line=line, field="json", reason=reason)
    if not isinstance(data, dict):
        return FeedError(path=path, line=line, field="json", reason="a record must be an object")
    return Record(data, path, line)
