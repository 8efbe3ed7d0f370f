"""How much work one call may do: candidates examined and slots expanded, each capped.

A narrow question ("03:00 to 03:01, within 500 km, by earliest slot") can make a search read
every supplier and every slot of its window; the caps bound what any one call costs. ``wanted``
is asked between steps: it may pause the call so others get their turn, and once it answers
False (the caller has gone) the work stops with Abandoned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from matcher.errors import Abandoned

T = TypeVar("T")
#: Slots expanded between two questions to ``wanted``.
SLOTS_PER_STEP = 256


def _always() -> bool:
    """A caller that always waits."""
    return True


class Budget:
    """The candidates and slots one call may still read; ``exhausted`` once either runs out."""

    def __init__(
        self,
        *,
        candidates: int | None = None,
        slots: int | None = None,
        wanted: Callable[[], bool] = _always,
    ) -> None:
        self.candidates = candidates
        self.slots = slots
        self.exhausted = False
        self._wanted = wanted

    def step(self) -> None:
        """Between two steps: the caller may pause here; Abandoned once it has gone."""
        if not self._wanted():
            raise Abandoned("the caller stopped waiting for this answer")

    def examined(self, candidates: Iterable[T]) -> Iterator[T]:
        """The candidates, one step each, until the candidate cap is reached."""
        for candidate in candidates:
            self.step()
            if self.candidates is not None:
                if self.candidates <= 0:
                    self.exhausted = True
                    return
                self.candidates -= 1
            yield candidate

    def expanded(self, slots: Iterable[T]) -> Iterator[T]:
        """The slots, until the slot cap is reached, with a step every ``SLOTS_PER_STEP``."""
        for count, slot in enumerate(slots, start=1):
            if self.slots is not None:
                if self.slots <= 0:
                    self.exhausted = True
                    return
                self.slots -= 1
            if count % SLOTS_PER_STEP == 0:
                self.step()
            yield slot
