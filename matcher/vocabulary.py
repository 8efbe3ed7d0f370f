"""The vocabularies feeds and requests share: specialties and ISO 639-1 languages.

Specialties come from ``data/specialties.json`` (canonical values, labels and synonyms);
languages are the ISO 639-1 codes pycountry knows. A feed and a Match filter both go through
here, so "GP", "gp" and "general_practice" mean the same everywhere, codes are stored in lower
case, and an unknown value is refused with the closest known ones rather than matching nothing.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import pycountry

#: How a value is spelled for lookups: case, spaces, hyphens and slashes do not matter.
_SEPARATORS = re.compile(r"[^0-9a-z]+")
_APOSTROPHES = re.compile(r"['\u2019]")
MAX_SUGGESTIONS = 3
#: A vocabulary this small is listed whole when a value is nothing like any of it.
MAX_LISTED = 20
SPECIALTIES_FILE = "specialties.json"  # data/specialties.json, shipped inside the package


def spelling(value: str) -> str:
    """The lookup key of a value: case-folded, apostrophes dropped, other separators as "_"."""
    return _SEPARATORS.sub("_", _APOSTROPHES.sub("", value.casefold())).strip("_")


class UnknownTerm(ValueError):
    """A value that names nothing in a vocabulary; ``suggestions`` are the closest known values."""

    def __init__(
        self, value: str, *, rule: str, suggestions: tuple[str, ...], known: tuple[str, ...] = ()
    ) -> None:
        self.value = value
        self.rule = rule
        self.suggestions = suggestions
        self.known = known  # every valid value, when there are few enough to list
        super().__init__(self.describe())

    def describe(self, rule: str = "") -> str:
        """The rule (this one, or the vocabulary's), the value (clipped) and the closest known
        values, for a person to act on."""
        shown = self.value if len(self.value) <= 40 else self.value[:39] + "…"
        hint = ""
        if self.suggestions:
            hint = "; did you mean " + " or ".join(repr(s) for s in self.suggestions) + "?"
        elif self.known:
            hint = f"; known: {', '.join(self.known)}"
        return f"{rule or self.rule}, got {shown!r}{hint}"


@dataclass(frozen=True)
class Vocabulary:
    """Canonical values with labels, the spellings that mean each, and names that only hint."""

    rule: str  # completes "<field>: ...": "must be a specialty from data/specialties.json"
    labels: Mapping[str, str]  # canonical value -> label for people
    aliases: Mapping[str, str]  # spelling -> canonical value: what is accepted
    hints: Mapping[str, str] = field(default_factory=dict)  # spelling -> value: suggested only

    def canonical(self, value: str) -> str:
        """The canonical value a spelling or synonym means; UnknownTerm if none."""
        found = self.aliases.get(spelling(value))
        if found is None:
            listed = tuple(sorted(self.labels)) if len(self.labels) <= MAX_LISTED else ()
            raise UnknownTerm(value, rule=self.rule, suggestions=self.closest(value), known=listed)
        return found

    def canonical_all(self, values: Iterable[str]) -> tuple[str, ...]:
        """Each value's canonical form, in order, once each; UnknownTerm for the first unknown."""
        return tuple(dict.fromkeys(self.canonical(v) for v in values))

    def closest(self, value: str) -> tuple[str, ...]:
        """Up to three canonical values a person who wrote ``value`` probably meant."""
        key = spelling(value)
        head = key.split("_", 1)[0]
        for exact in (self.hints.get(key), self.aliases.get(head), self.hints.get(head)):
            if exact is not None:
                return (exact,)
        near = difflib.get_close_matches(key, [*self.aliases, *self.hints], n=10, cutoff=0.6)
        meant = (self.aliases.get(m) or self.hints[m] for m in near)
        return tuple(dict.fromkeys(meant))[:MAX_SUGGESTIONS]


@lru_cache(maxsize=1)
def specialties() -> Vocabulary:
    """The specialty vocabulary of data/specialties.json, synonyms included."""
    text = resources.files("matcher").joinpath(SPECIALTIES_FILE).read_text(encoding="utf-8")
    entries: dict[str, dict[str, object]] = json.loads(text)["specialties"]
    aliases: dict[str, str] = {}
    for value, entry in entries.items():
        synonyms = entry.get("synonyms", [])
        assert isinstance(synonyms, list)
        for alias in (value, *synonyms):
            key = spelling(str(alias))
            if aliases.setdefault(key, value) != value:
                raise ValueError(
                    f"{SPECIALTIES_FILE}: {alias!r} means both {aliases[key]!r} and {value!r}"
                )
    return Vocabulary(
        rule="must be a specialty from data/specialties.json (or a synonym)",
        labels={value: str(entry["label"]) for value, entry in entries.items()},
        aliases=aliases,
    )


@lru_cache(maxsize=1)
def languages() -> Vocabulary:
    """ISO 639-1 codes in any case; English names and ISO 639-2 codes only as hints."""
    labels: dict[str, str] = {}
    hints: dict[str, str] = {}
    for language in pycountry.languages:
        code = getattr(language, "alpha_2", None)
        if code is None:
            continue
        labels[code] = language.name
        names = (language.name, getattr(language, "common_name", ""))
        for other in (
            *names,
            *(n.split(" (", 1)[0] for n in names),  # "Nepali (macrolanguage)" is Nepali
            language.alpha_3,
            getattr(language, "bibliographic", ""),
        ):
            if other:
                hints.setdefault(spelling(other), code)
    return Vocabulary(
        rule="must be an ISO 639-1 language code such as 'en'",
        labels=labels,
        aliases={code: code for code in labels},
        hints={k: v for k, v in hints.items() if k not in labels},
    )
