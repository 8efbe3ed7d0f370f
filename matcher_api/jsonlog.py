"""Structured logs: one JSON object per line, carrying only fields this service chose to log."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime

from matcher_api import correlation

#: Extra fields a log call may attach (``extra=``); anything else a record carries is dropped.
FIELDS = ("request_id", "trace_id", "span_id", "method", "code", "duration_ms")


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line; an exception shows its type and frames, not its text.

    An exception's message may quote request values (a coordinate, a name), so it is left out,
    and so are the arguments of a record that carries one, each shown as its type instead
    (grpc logs "Exception calling application: %s" with the exception as its argument: the line
    reads "Exception calling application: <ValueError>").
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON object on one line."""
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _typed(record) if record.exc_info else record.getMessage(),
        }
        entry.update(correlation.current())  # request_id, trace_id, span_id inside a call
        entry.update({name: getattr(record, name) for name in FIELDS if hasattr(record, name)})
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
            entry["stack"] = traceback.format_tb(record.exc_info[2])
        return json.dumps(entry, ensure_ascii=False)


def _typed(record: logging.LogRecord) -> str:
    """A record's message with each argument replaced by its type, as ``<TypeName>``."""
    args = record.args if isinstance(record.args, tuple) else (record.args,)
    if not record.args:
        return str(record.msg)
    try:
        return str(record.msg) % tuple(f"<{type(a).__name__}>" for a in args)
    except (TypeError, ValueError):  # a message whose placeholders do not fit its arguments
        return str(record.msg)


def configure(level: str | int) -> None:
    """Sends every log record to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
