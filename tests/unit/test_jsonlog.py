"""Structured log lines: one JSON object each, chosen fields only, no exception messages."""

from __future__ import annotations

import json
import logging

from matcher_api.jsonlog import JsonFormatter

SECRET = "lat 48.85661234 of Soho Surgery"


def formatted(message: str, *args: object, exc: BaseException | None = None, **extra: object):
    record = logging.LogRecord("matcher.test", logging.ERROR, __file__, 1, message, args, None)
    if exc is not None:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    record.__dict__.update(extra)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    return json.loads(line)


def test_a_record_is_one_json_object_with_its_level_logger_and_message():
    entry = formatted("serving %d suppliers", 12)
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "matcher.test"
    assert entry["message"] == "serving 12 suppliers"


def test_only_the_chosen_extra_fields_are_kept():
    entry = formatted("rpc", request_id="abc", code="OK", peer="ipv4:127.0.0.1:5", lat=48.8566)
    assert entry["request_id"] == "abc"
    assert entry["code"] == "OK"
    assert "peer" not in entry
    assert "lat" not in entry


def fail(detail: str) -> None:
    raise ValueError(detail)


def test_an_exception_shows_its_type_and_frames_but_not_its_message():
    try:
        fail(SECRET)  # frames show source lines, which hold names, not the values they had
    except ValueError as error:
        entry = formatted("Exception calling application: %s", error, exc=error)
    assert entry["message"] == "Exception calling application: <ValueError>"
    assert entry["error"] == "ValueError"
    assert any("test_an_exception_shows" in frame for frame in entry["stack"])
    assert "48.8566" not in json.dumps(entry)
    assert "Soho" not in json.dumps(entry)


def test_a_message_whose_placeholders_do_not_fit_is_kept_as_written():
    try:
        fail(SECRET)
    except ValueError as error:
        entry = formatted("two: %s %s", error, exc=error)
    assert entry["message"] == "two: %s %s"
    assert "Soho" not in json.dumps(entry)
