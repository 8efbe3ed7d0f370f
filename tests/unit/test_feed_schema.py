"""docs/feed.schema.json: a valid JSON Schema, the one the loader uses, versioned with the feed."""

from __future__ import annotations

import json
import re

import jsonschema_rs
import pytest

from matcher.feeds.header import Header
from matcher.feeds.schema import FORMAT_VERSIONS, KINDS, definition, document
from tests.conftest import ROOT
from tests.feed_files import tiny_records, version_2

PUBLISHED = ROOT / "docs" / "feed.schema.json"


def test_the_published_schema_is_the_one_the_package_reads():
    assert json.loads(PUBLISHED.read_text()) == document()
    assert (ROOT / "matcher" / "feeds" / "feed.schema.json").resolve() == PUBLISHED


def test_it_is_a_valid_draft_2020_12_schema():
    meta = jsonschema_rs.meta
    assert meta.is_valid(document())


def test_every_kind_of_record_has_a_definition_in_every_format_version():
    for version in FORMAT_VERSIONS:
        assert f"v{version}" in document()["$defs"]
        for kind in KINDS:
            assert definition(kind, version) in document()["$defs"]
    header = document()["$defs"]["header"]["properties"]["format_version"]["enum"]
    assert tuple(header) == FORMAT_VERSIONS


def test_the_header_declares_what_the_loader_reads():
    fields = set(document()["$defs"]["header"]["properties"])
    read = set(Header.__dataclass_fields__) - {"version"} | {"record", "format_version"}
    assert fields == read


@pytest.mark.parametrize("version", FORMAT_VERSIONS)
def test_every_line_of_the_tiny_feed_matches_the_schema_as_an_integrator_would_check_it(version):
    """An integrator checks each line against $defs/vN with any 2020-12 validator."""
    records = tiny_records() if version == 1 else version_2(tiny_records())
    validator = jsonschema_rs.validator_for({**document(), "$ref": f"#/$defs/v{version}"})
    for record in records:
        assert validator.is_valid(record), record


def test_the_schema_as_a_whole_is_a_version_2_record():
    validator = jsonschema_rs.validator_for(document())
    assert validator.is_valid(version_2(tiny_records())[1])
    assert not validator.is_valid(tiny_records()[1])  # lat/lng is version 1


def test_every_leaf_rule_reads_as_a_message():
    """Each definition's description completes "must be ...", the loader's messages."""
    for name, definition_ in document()["$defs"].items():
        if "type" in definition_ or "enum" in definition_:
            text = definition_.get("description", "")
            assert re.match(r"(a|an|one of|1 or 2|\d) ", text), (name, text)
