"""The published feed schema (docs/feed.schema.json) as the checker of every record's shape.

Each record is checked against the definition for its kind and the feed's format version, with
a validator jsonschema-rs compiles once (a few microseconds a record). Only a record that fails
is examined again, and each of its problems becomes a FeedError that names the field, the rule
(the definition's own description) and the value, clipped, with a "did you mean" for a misspelt
field or enum value. What no schema can say (a real zone, end after start, a valid polygon, the
vocabularies) is checked after this, in suppliers.py and availability.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema_rs

from matcher.errors import FeedError
from matcher.feeds.files import Record
from matcher.feeds.messages import clipped, did_you_mean, nearest

SCHEMA_FILE = "feed.schema.json"  # docs/feed.schema.json, shipped inside the package
KINDS = ("header", "supplier", "availability")
FORMAT_VERSIONS = (1, 2)
#: The definition a field only later versions allow refers to.
NEEDS_V2 = "needs_v2"
Kind = jsonschema_rs.ValidationErrorKind


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    """The feed schema as published."""
    text = resources.files("matcher.feeds").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    found: dict[str, Any] = json.loads(text)
    return found


def definition(kind: str, version: int) -> str:
    """The name of the $defs entry a record of a kind and format version must match."""
    return "header" if kind == "header" else f"{kind}_v{version}"


@lru_cache(maxsize=1)
def record_schema() -> RecordSchema:
    """The compiled schema every reader shares (its validators are immutable)."""
    return RecordSchema()


class RecordSchema:
    """Compiled validators for every kind of record in every format version."""

    def __init__(self) -> None:
        self._doc = document()
        self._validators = {
            (kind, version): self._compiled(definition(kind, version))
            for kind in KINDS
            for version in FORMAT_VERSIONS
        }

    def _compiled(self, name: str) -> Any:
        """A validator for one definition, its references resolved inside the whole document."""
        body = {k: v for k, v in self._doc.items() if k != "$ref"}
        return jsonschema_rs.Draft202012Validator({**body, "$ref": f"#/$defs/{name}"})

    def problems(self, record: Record, *, version: int) -> list[FeedError]:
        """Every way a record breaks the schema; empty when it matches."""
        kind = record.data.get("record")
        if kind not in KINDS:
            return [_unknown_kind(record, kind)]
        validator = self._validators[(kind, version if version in FORMAT_VERSIONS else 1)]
        if validator.is_valid(record.data):
            return []
        found: list[FeedError] = []
        repeats: dict[tuple[object, ...], list[int]] = {}  # first error's index, and how many more
        for error in validator.iter_errors(record.data):
            path = list(error.instance_path)
            if path and isinstance(path[-1], int):  # an item of a list: said once per rule
                key = (*path[:-1], *error.schema_path)
                if key in repeats:
                    repeats[key][1] += 1
                    continue
                repeats[key] = [len(found), 0]
            found.extend(self._explained(record, error))
        for first, more in repeats.values():
            if more:
                e = found[first]
                found[first] = FeedError(
                    path=e.path, line=e.line, field=e.field, reason=f"{e.reason} (and {more} more)"
                )
        return found

    def _explained(self, record: Record, error: Any) -> list[FeedError]:
        """One validation error as the FeedErrors a person can act on."""
        path: list[str | int] = list(error.instance_path)
        rule = self._at(error.schema_path[:-1])
        kind = error.kind
        if isinstance(kind, Kind.AdditionalProperties):
            known, values = _allowed(rule), error.instance
            return [
                record.fail(_field([*path, name]), _unknown_field(name, values[name], known))
                for name in kind.unexpected
            ]
        if isinstance(kind, Kind.Required):
            return [record.fail(_field([*path, kind.property]), _missing(kind, error, rule))]
        value = error.instance
        if isinstance(kind, Kind.Not) or NEEDS_V2 in error.schema_path:
            return [record.fail(_field(path), f"needs format_version 2, got {clipped(value)}")]
        reason = f"must be {rule.get('description') or error.message}, got {clipped(value)}"
        if isinstance(kind, Kind.Enum) and isinstance(value, str):
            reason += did_you_mean(value, [str(option) for option in rule.get("enum", ())])
        return [record.fail(_field(path), reason)]

    def _at(self, schema_path: Sequence[str | int]) -> Mapping[str, Any]:
        """The subschema at a keyword location of the document."""
        node: Any = self._doc
        for step in schema_path:
            node = node[step]
        return node if isinstance(node, Mapping) else {}


def _allowed(rule: Mapping[str, Any]) -> list[str]:
    """The fields an object definition allows in this version."""
    properties: Mapping[str, Any] = rule.get("properties", {})
    return [k for k, v in properties.items() if v.get("$ref") != f"#/$defs/{NEEDS_V2}"]


def _unknown_field(name: str, value: object, known: list[str]) -> str:
    """Why an unknown field is refused, and the field probably meant."""
    return (
        f"must be one of the fields {', '.join(known)}, got {name!r}: {clipped(value)}"
        f"{did_you_mean(name, known)}"
    )


def _missing(kind: Any, error: Any, rule: Mapping[str, Any]) -> str:
    """Why a required field is missing, naming a misspelt field that may have been meant."""
    if "home_visit_needs_area" in error.schema_path:
        return "is required when modalities include HOME_VISIT"
    present = error.instance if isinstance(error.instance, dict) else {}
    unknown = [k for k in present if k not in rule.get("properties", {})]
    near = nearest(kind.property, unknown)
    return f"is required (found {near[0]!r}: misspelt?)" if near else "is required"


def _unknown_kind(record: Record, kind: object) -> FeedError:
    """The error for a record whose type is missing or unknown."""
    rule = f"must be one of {', '.join(KINDS)}, got {clipped(kind)}"
    if isinstance(kind, str):
        rule += did_you_mean(kind, list(KINDS))
    if "record" not in record.data:
        rule = f"is required: one of {', '.join(KINDS)}"
    return record.fail("record", rule)


def _field(path: Sequence[str | int]) -> str:
    """A JSON path as a feed field name: ``weekly[0].slot_minutes``."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text or "record"
