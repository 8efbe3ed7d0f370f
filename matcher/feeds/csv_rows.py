"""CSV feeds: one supplier and its availability per row, turned into the two JSON records.

The records then go through the same checks as a JSON Lines feed, so a bad cell is reported
with its column as the field (``timezone``, ``weekly[0].end``).
"""

from __future__ import annotations

import csv
from typing import Any

import orjson

from matcher.errors import FeedError
from matcher.feeds.messages import nearest, syntax_error

SUPPLIER_COLUMNS = ("id", "name", "specialties", "languages", "modalities", "timezone")
LOCATION_COLUMNS = ("lat", "lng", "x", "y")
AVAILABILITY_COLUMNS = ("weekly", "one_off", "closed", "min_notice_minutes", "booked")
COLUMNS = (*SUPPLIER_COLUMNS, *LOCATION_COLUMNS, "service_area", *AVAILABILITY_COLUMNS)
LISTS = frozenset({"specialties", "languages", "modalities", "closed"})  # ";"-separated
NUMBERS = frozenset({*LOCATION_COLUMNS, "min_notice_minutes"})
JSON_CELLS = frozenset({"weekly", "one_off", "booked"})


class CsvLayout:
    """The columns a CSV feed names on its second line."""

    def __init__(self, raw: bytes, *, path: str, line: int) -> None:
        """Raises FeedError for an unknown, repeated or missing column."""
        self.path = path
        self.columns = _cells(raw, path=path, line=line)
        problem = _column_problem(self.columns)
        if problem:
            raise FeedError(path=path, line=line, field="columns", reason=problem)

    def records(self, raw: bytes, *, line: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """A row as its supplier record and its availability record."""
        cells = _cells(raw, path=self.path, line=line)
        if len(cells) != len(self.columns):
            raise FeedError(
                path=self.path,
                line=line,
                field="row",
                reason=f"has {len(cells)} cells for {len(self.columns)} columns",
            )
        row = {
            column: self._value(column, cell, line=line)
            for column, cell in zip(self.columns, cells, strict=True)
            if cell.strip()
        }
        supplier = {"record": "supplier", **{c: row[c] for c in SUPPLIER_COLUMNS if c in row}}
        supplier["location"] = {c: row[c] for c in LOCATION_COLUMNS if c in row}
        if "service_area" in row:
            supplier["service_area"] = _area(row["service_area"])
        availability = {"record": "availability", "supplier_id": row.get("id")}
        availability.update({c: row[c] for c in AVAILABILITY_COLUMNS if c in row})
        return supplier, availability

    def _value(self, column: str, cell: str, *, line: int) -> Any:
        """A cell as the JSON value its column holds; a malformed number stays text."""
        if column in LISTS:
            return [item.strip() for item in cell.split(";")]
        if column in JSON_CELLS:
            try:
                return orjson.loads(cell)
            except orjson.JSONDecodeError as exc:
                raise FeedError(
                    path=self.path, line=line, field=column, reason=syntax_error(exc, cell)
                ) from None
        if column in NUMBERS or column == "service_area":
            return _number(cell)
        return cell


def _column_problem(columns: list[str]) -> str | None:
    """What is wrong with a CSV feed's column names, if anything."""
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        hints = [
            f"; {c}: did you mean {near[0]!r}?" for c in unknown if (near := nearest(c, COLUMNS))
        ]
        return (
            f"unknown column(s) {', '.join(unknown)}; known: {', '.join(COLUMNS)}{''.join(hints)}"
        )
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        return f"repeated column(s) {', '.join(repeated)}"
    return None if "id" in columns else "the id column is required"


def _cells(raw: bytes, *, path: str, line: int) -> list[str]:
    """One CSV line's cells."""
    try:
        return next(csv.reader([raw.decode("utf-8")]), [])
    except UnicodeDecodeError:
        raise FeedError(path=path, line=line, field="row", reason="is not valid UTF-8") from None


def _number(cell: str) -> int | float | str:
    """A numeric cell as an int or a float; anything else as it was written."""
    for kind in (int, float):
        try:
            return kind(cell)
        except ValueError:
            continue
    return cell


def _area(value: int | float | str) -> dict[str, Any]:
    """A service_area cell: a number is a radius in km, text a WKT polygon."""
    return {"wkt": value} if isinstance(value, str) else {"radius_km": value}
