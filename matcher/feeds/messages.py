"""How feed problems quote what they found: values clipped, JSON syntax errors with a column,
and the option a near miss probably meant."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable

import orjson

MAX_SHOWN = 40  # characters of a value a message quotes


def clipped(value: object) -> str:
    """A value as a message quotes it: a string in quotes, anything else as JSON, clipped."""
    if isinstance(value, str):
        text = repr(value[: MAX_SHOWN + 1])
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def syntax_error(exc: orjson.JSONDecodeError, text: bytes | str) -> str:
    """Why a line is not JSON, and where: the column (in characters) on that line."""
    if exc.lineno > 1:  # past the line's own newline: the line ended too soon
        line = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        return (
            f"is not valid JSON: {exc.msg} at the end of the line (column {len(line.rstrip()) + 1})"
        )
    return f"is not valid JSON: {exc.msg} at column {exc.colno}"


def nearest(value: str, options: Iterable[str], *, most: int = 1) -> list[str]:
    """The options nearest a value, ignoring case; none if nothing is near."""
    folded = {option.casefold(): option for option in options}
    near = difflib.get_close_matches(value.casefold(), list(folded), n=most, cutoff=0.6)
    return [folded[n] for n in near]


def did_you_mean(value: str, options: Iterable[str], *, most: int = 1) -> str:
    """ "; did you mean 'x'?" for the options nearest a value, ignoring case; "" if none is near."""
    near = nearest(value, options, most=most)
    return "; did you mean " + " or ".join(map(repr, near)) + "?" if near else ""
