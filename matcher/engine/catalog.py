"""The supplier catalogue: loaded once, indexed, and matched against a user's query."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import chain, islice
from typing import NamedTuple

import numpy as np

from matcher.engine.bookable import first_bookable, recheck
from matcher.engine.budget import Budget
from matcher.engine.chunked import Chunked
from matcher.engine.expansion import make_weeks
from matcher.engine.nearby import Nearby, Run, offering
from matcher.engine.remote import RemoteRanker, daily_histogram
from matcher.engine.rendering import RenderedColumns
from matcher.engine.slot_ids import parse_slot_id
from matcher.errors import NotFound
from matcher.geo.geometry import FIRST_GEODESICS
from matcher.instants import to_micros
from matcher.model import (
    WAKING_HOURS,
    Availability,
    LocalHours,
    Match,
    MatchQuery,
    Modality,
    Order,
    RenderedSlot,
    SlotCheck,
    SlotStatus,
    Supplier,
    Window,
)

#: Candidates whose slots are expanded together when a Match wants all of them (by earliest
#: slot); when it wants a few more, it takes just as many.
CANDIDATE_BATCH = 64
#: Remote candidates whose distances are measured together.
REMOTE_PIECE = 32
REMOTE_ONLY = frozenset({Modality.REMOTE})
_MET_BITS = (Modality.IN_PERSON, Modality.HOME_VISIT, Modality.REMOTE)
#: What a candidate is matched by, for each sum of 1 (in person), 2 (at home) and 4 (remote).
_MET = tuple(
    frozenset(m for bit, m in enumerate(_MET_BITS) if code >> bit & 1) for code in range(8)
)


class Candidate(NamedTuple):
    """A supplier that passed the spatial and attribute filters, before its slots are known
    (a named tuple: a Match makes dozens, and a frozen dataclass costs several times more)."""

    position: int
    distance_km: float
    modalities: frozenset[Modality]
    score: float = 0.0  # remote suppliers' estimated weekly slots in the user's hours
    ranked_by: LocalHours | None = None  # the user hours a remote-only candidate was ranked by


@dataclass(frozen=True)
class FilterCounts:
    """How many suppliers list each specialty and each language."""

    specialties: Mapping[str, int]
    languages: Mapping[str, int]


class Catalog:
    """Every supplier of one feed, indexed by id, by place and by how remote ones suit a user."""

    def __init__(self, suppliers: Sequence[Supplier]) -> None:
        every = tuple(suppliers)  # indexed from a tuple: quicker to walk than the chunks
        self.suppliers: Chunked[Supplier] = Chunked(every)
        self._by_id = {s.id: i for i, s in enumerate(every)}
        self._counts: FilterCounts | None = None  # counted on first use: availability changes none
        make_weeks(s.availability.weekly for s in every)
        offered = offering(every)
        self._nearby = Nearby(every, offered=offered)
        remote = offered[Modality.REMOTE].tolist()
        self._offers_remote = np.zeros(len(every), dtype=bool)
        self._offers_remote[remote] = True
        self._ranker = RemoteRanker(
            remote,
            [every[i].timezone for i in remote],
            [daily_histogram(every[i].availability) for i in remote],
        )

    def __len__(self) -> int:
        return len(self.suppliers)

    def supplier(self, supplier_id: str) -> Supplier:
        """One supplier by id, or NotFound."""
        try:
            return self.suppliers[self._by_id[supplier_id]]
        except KeyError:
            raise NotFound("supplier", supplier_id) from None

    def filter_counts(self) -> FilterCounts:
        """How many suppliers list each specialty and language (counted once per catalogue)."""
        if self._counts is None:
            self._counts = FilterCounts(
                specialties=Counter(chain.from_iterable(s.specialties for s in self.suppliers)),
                languages=Counter(chain.from_iterable(s.languages for s in self.suppliers)),
            )
        return self._counts

    def with_availability(self, changed: Mapping[str, Availability]) -> Catalog:
        """A copy in which some suppliers (by id) have new availability; the indexes are
        shared, as availability moves no supplier and changes no modality, and so are the
        suppliers it does not change (copying them all would cost every update O(suppliers))."""
        replacements = {}
        for supplier_id, availability in changed.items():
            position = self._by_id.get(supplier_id)
            if position is None:
                raise NotFound("supplier", supplier_id)
            replacements[position] = replace(self.suppliers[position], availability=availability)
        updated = copy.copy(self)
        updated.suppliers = self.suppliers.replaced(replacements)
        return updated

    def match(
        self,
        query: MatchQuery,
        *,
        now: datetime,
        limit: int | None = None,
        budget: Budget | None = None,
    ) -> list[Match]:
        """The first ``limit`` bookable suppliers for a query (all if None), ranked as it asks.

        Nearby suppliers come by distance and remote-only ones by score, and slots are expanded
        only as far as the answer needs. Ordered by earliest slot, the remote-only suppliers
        considered are the best-scoring ``remote_pool(limit)``. The ``budget`` caps the
        candidates examined and slots expanded: once spent, the matches found so far are the
        answer (``budget.exhausted`` says so).
        """
        budget = budget or Budget()
        seen: set[int] = set()
        nearby = self._nearby_candidates(query, seen=seen)
        remote = self._remote_candidates(query, exclude=seen)  # drawn only once nearby is done
        if query.order is Order.BY_DISTANCE:
            candidates = budget.examined(chain(nearby, remote))
            return self._bookable(candidates, query=query, now=now, needed=limit, budget=budget)
        pool = budget.examined(chain(nearby, islice(remote, remote_pool(limit))))
        found = self._bookable(pool, query=query, now=now, needed=None, budget=budget)
        return sorted(found, key=_earliest)[:limit]

    def _bookable(
        self,
        candidates: Iterator[Candidate],
        *,
        query: MatchQuery,
        now: datetime,
        needed: int | None,
        budget: Budget,
    ) -> list[Match]:
        """The first ``needed`` candidates (all if None) that have slots, with them.

        Candidates are taken in batches whose slots are expanded and rendered together: as
        many as are still needed, or ``CANDIDATE_BATCH`` at a time when all are; never more
        than taking them one by one would have examined.
        """
        found: list[Match] = []
        while needed is None or len(found) < needed:
            size = CANDIDATE_BATCH if needed is None else needed - len(found)
            batch = list(islice(candidates, size))
            if not batch:
                break
            found.extend(self._with_slots(batch, query=query, now=now, budget=budget))
        return found

    def nearest(self, query: MatchQuery, *, limit: int) -> list[Candidate]:
        """The first ``limit`` suppliers serving the user's point in person or at home that
        pass the filters, nearest first: the spatial step of ``match`` alone."""
        return list(islice(self._nearby_candidates(query, seen=set(), first=limit), limit))

    def _nearby_candidates(
        self, query: MatchQuery, *, seen: set[int], first: int = FIRST_GEODESICS
    ) -> Iterator[Candidate]:
        """Suppliers serving the user's point that pass the filters, nearest first, the
        ``first`` nearest measured together; adds their positions to ``seen`` a run at a time."""
        if query.point is None:
            return iter(())
        runs = self._nearby.runs(
            query.point, radius_km=query.radius_km, modalities=query.modalities, first=first
        )
        return chain.from_iterable(self._nearby_run(run, query=query, seen=seen) for run in runs)

    def _nearby_run(self, run: Run, *, query: MatchQuery, seen: set[int]) -> list[Candidate]:
        """One run of nearby suppliers as the candidates that pass the filters, their
        positions added to ``seen``."""
        at, km, met = run
        if query.specialties or query.languages:
            wanted = [_wanted(self.suppliers[i], query) for i in at.tolist()]
            at, km, met = at[wanted], km[wanted], met[wanted]
        if Modality.REMOTE in query.modalities:
            met = met + 4 * self._offers_remote[at]
        positions = at.tolist()
        seen.update(positions)
        return list(map(Candidate, positions, km.tolist(), map(_MET.__getitem__, met.tolist())))

    def _remote_candidates(self, query: MatchQuery, *, exclude: set[int]) -> Iterator[Candidate]:
        """Remote suppliers not already nearby, best score first, distances measured a few
        at a time as the caller reads."""
        if Modality.REMOTE not in query.modalities or not len(self._ranker.positions):
            return
        hours = query.local_hours or WAKING_HOURS
        ranking = self._ranker.ranking(
            user_zone=query.user_zone, hours=hours, at=query.window.start
        )
        for run, scores in ranking.best_first():
            for start in range(0, len(run), REMOTE_PIECE):
                piece = slice(start, start + REMOTE_PIECE)
                kept = [
                    (i, score)
                    for i, score in zip(
                        self._ranker.positions[run[piece]].tolist(),
                        scores[piece].tolist(),
                        strict=True,
                    )
                    if i not in exclude and _wanted(self.suppliers[i], query)
                ]
                distances = self._nearby.distances_km(query.point, [i for i, _ in kept])
                for (i, score), distance in zip(kept, distances, strict=True):
                    yield Candidate(
                        position=i,
                        distance_km=distance,
                        modalities=REMOTE_ONLY,
                        score=score,
                        ranked_by=hours,
                    )

    def _with_slots(
        self, candidates: Sequence[Candidate], *, query: MatchQuery, now: datetime, budget: Budget
    ) -> list[Match]:
        """The candidates that have slots in the window and the user's hours, with their first
        ones, in order; remote-only ones first in the hours they were ranked by."""
        suppliers = [self.suppliers[c.position] for c in candidates]
        found = first_bookable(
            suppliers,
            window=query.window,
            now=now,
            user_zone=query.user_zone,
            local_hours=query.local_hours,
            limit=query.max_slots,
            budget=budget,
            preferred=[c.ranked_by for c in candidates],
        )
        return [
            Match(
                supplier=supplier,
                distance_km=candidate.distance_km,
                modalities=candidate.modalities,
                slots=slots,
                score=candidate.score,
            )
            for candidate, supplier, slots in zip(candidates, suppliers, found, strict=True)
            if len(slots)
        ]

    def slots_for(
        self,
        supplier_id: str,
        *,
        user_zone: str,
        window: Window,
        now: datetime,
        local_hours: LocalHours | None = None,
        max_slots: int = 100,
        budget: Budget | None = None,
    ) -> tuple[Supplier, Sequence[RenderedSlot]]:
        """One supplier's bookable slots in a window, rendered for a user's zone; the budget
        caps the slots expanded."""
        supplier = self.supplier(supplier_id)
        (found,) = first_bookable(
            [supplier],
            window=window,
            now=now,
            user_zone=user_zone,
            local_hours=local_hours,
            limit=max_slots,
            budget=budget,
        )
        return supplier, found

    def check(self, slot_ids: Sequence[str], *, now: datetime) -> list[SlotCheck]:
        """Exactly one answer per slot id, in order."""
        return [self._check_one(text, now=now) for text in slot_ids]

    def _check_one(self, text: str, *, now: datetime) -> SlotCheck:
        """Whether one slot id is still bookable, and why not."""
        ref = parse_slot_id(text)
        if ref is None:
            return SlotCheck(text, SlotStatus.MALFORMED_ID, "not a slot id issued by this service")
        if ref.supplier_id not in self._by_id:
            return SlotCheck(
                text, SlotStatus.UNKNOWN_SUPPLIER, f"supplier {ref.supplier_id!r} is not listed"
            )
        return recheck(self.supplier(ref.supplier_id), ref, text=text, now=now)


def _wanted(supplier: Supplier, query: MatchQuery) -> bool:
    """Whether a supplier passes the specialty and language filters."""
    if query.specialties and query.specialties.isdisjoint(supplier.specialties):
        return False
    return not (query.languages and query.languages.isdisjoint(supplier.languages))


def _earliest(m: Match) -> tuple[int, float, str]:
    """The BY_EARLIEST_SLOT key: first slot, then distance, then id."""
    slots = m.slots
    first = slots.first_start if isinstance(slots, RenderedColumns) else to_micros(slots[0].start)
    return (first, m.distance_km, m.supplier.id)


def remote_pool(limit: int | None) -> int | None:
    """How many best-scoring remote suppliers compete for the earliest slot."""
    return None if limit is None else max(100, 5 * limit)
