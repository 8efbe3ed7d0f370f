"""Keeps docs/feeds.md honest: every example feed in it loads as it stands."""

from __future__ import annotations

import re

import pytest

from matcher.feeds import load_feed
from tests.conftest import ROOT

DOC = (ROOT / "docs" / "feeds.md").read_text()
#: Fenced blocks of a header and more lines: whole example feeds, JSON Lines or CSV.
EXAMPLES = [
    (kind, body)
    for kind, body in re.findall(r"^```(json|text)\n(.*?)^```", DOC, re.M | re.S)
    if body.startswith('{"record":"header"') and body.count("\n") > 1
]


def test_the_doc_has_examples_of_each_format():
    assert [kind for kind, _ in EXAMPLES].count("json") >= 2
    assert [kind for kind, _ in EXAMPLES].count("text") == 1


@pytest.mark.parametrize(("kind", "body"), EXAMPLES)
def test_an_example_feed_loads(tmp_path, kind, body):
    path = tmp_path / ("feed.csv" if kind == "text" else "feed.jsonl")
    path.write_text(body)
    feed = load_feed(path)
    assert feed.suppliers
