"""The vocabularies feeds and filters share: data/specialties.json and ISO 639-1."""

from __future__ import annotations

import json
import re

import pytest

from devtools.sample_feed.suppliers import SPECIALTIES
from matcher.vocabulary import UnknownTerm, languages, specialties, spelling
from tests.conftest import ROOT

FILE = json.loads((ROOT / "data" / "specialties.json").read_text())["specialties"]


def test_the_shipped_file_is_the_one_the_package_reads():
    assert set(specialties().labels) == set(FILE)
    assert (ROOT / "matcher" / "specialties.json").resolve() == ROOT / "data" / "specialties.json"


def test_every_specialty_is_lower_snake_case_with_a_label():
    for value, entry in FILE.items():
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", value), value
        assert entry["label"].strip()


def test_no_synonym_means_two_specialties():
    """specialties() raises on a clash; every synonym is also spelt as a key would be."""
    seen: dict[str, str] = {}
    for value, entry in FILE.items():
        for alias in (value, *entry["synonyms"]):
            assert seen.setdefault(spelling(alias), value) == value, alias
            assert alias == spelling(alias), alias


def test_the_sample_feed_uses_exactly_the_vocabulary():
    assert set(SPECIALTIES) == set(FILE)


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("general_practice", "general_practice"),
        ("GP", "general_practice"),
        ("General Practice", "general_practice"),
        ("family-medicine", "general_practice"),
        ("Women's health", "gynecology"),
        ("OB/GYN", "gynecology"),
        ("Paediatrics", "pediatrics"),
    ],
)
def test_a_specialty_is_read_whatever_its_case_separators_or_synonym(written, meant):
    assert specialties().canonical(written) == meant


@pytest.mark.parametrize(
    ("written", "meant"), [("en", "en"), ("EN", "en"), (" De ", "de"), ("ne", "ne")]
)
def test_a_language_is_an_iso_639_1_code_in_any_case(written, meant):
    assert languages().canonical(written) == meant


@pytest.mark.parametrize(
    ("written", "suggested"),
    [
        ("German", ("de",)),
        ("deu", ("de",)),
        ("ger", ("de",)),
        ("en-GB", ("en",)),
        ("Nepali", ("ne",)),
        ("English", ("en",)),
    ],
)
def test_a_language_name_or_longer_code_is_refused_with_its_code(written, suggested):
    with pytest.raises(UnknownTerm) as caught:
        languages().canonical(written)
    assert caught.value.suggestions == suggested


def test_a_value_like_none_lists_the_whole_small_vocabulary():
    with pytest.raises(UnknownTerm) as caught:
        specialties().canonical("zzz")
    assert caught.value.suggestions == ()
    assert caught.value.known == tuple(sorted(FILE))
    assert caught.value.describe().endswith(f"got 'zzz'; known: {', '.join(sorted(FILE))}")


def test_a_long_value_is_clipped_in_the_message():
    with pytest.raises(UnknownTerm) as caught:
        specialties().canonical("x" * 500)
    assert "'" + "x" * 39 + "…'" in caught.value.describe()


def test_canonical_all_keeps_order_and_drops_repeats():
    assert specialties().canonical_all(["GP", "nursing", "general_practice"]) == (
        "general_practice",
        "nursing",
    )
