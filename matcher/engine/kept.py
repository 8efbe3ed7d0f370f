"""What was worked out from an object, kept for the objects used most recently, by identity.

Availabilities (their expansion plans) and suppliers (their serialized messages) are immutable
and replaced whole by a new feed, so a value made from one stays right for as long as that very
object lives. Keyed by ``id``, each entry also holds the object, so its id is not reused while
the entry is kept; the objects themselves are never written to (forked workers keep sharing
their pages), and the memory stays bounded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Kept(Generic[K, V]):
    """``make(key)`` for the ``size`` keys asked for most recently, made once each."""

    def __init__(self, size: int, make: Callable[[K], V]) -> None:
        self._size = size
        self._make = make
        self._kept: OrderedDict[int, tuple[K, V]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, key: K) -> V:
        with self._lock:
            found = self._kept.get(id(key))
            if found is not None and found[0] is key:
                self._kept.move_to_end(id(key))
                return found[1]
        made = self._make(key)
        with self._lock:
            self._kept[id(key)] = (key, made)
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return made
