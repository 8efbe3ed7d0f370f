"""One instance of each distinct value a feed repeats, so a large catalogue holds each once."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar, cast

import orjson

from matcher.feeds.files import Record

H = TypeVar("H", bound=Hashable)


class Shared:
    """One instance per distinct immutable value, each checked once: feeds repeat the same
    opening hours, specialties and closures many times, and a large catalogue holds each once."""

    def __init__(self) -> None:
        self._seen: dict[Hashable, Hashable] = {}
        self._made: dict[tuple[str, int, object], Hashable] = {}

    def __call__(self, value: H) -> H:
        """The first instance equal to ``value``."""
        return cast(H, self._seen.setdefault(value, value))

    def made(
        self,
        record: Record,
        name: str,
        make: Callable[[], H],
        *,
        version: int = 1,
        strings: bool = False,
    ) -> H:
        """What ``make`` builds from a field, reused for any later field written the same.

        The key is the field's raw JSON (and the format version it was checked under), so 5,
        5.0 and true never share a value; a list the schema holds to strings (``strings``) is
        keyed by its tuple, which is quicker. Only a value that passed its checks is remembered.
        """
        raw = record.data.get(name)
        key = (name, version, tuple(raw) if strings and raw is not None else orjson.dumps(raw))
        if key not in self._made:
            self._made[key] = self(make())
        return cast(H, self._made[key])
