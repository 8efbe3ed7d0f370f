"""The supplier catalogue: loaded once, indexed, and matched against a user's query."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from itertools import chain, islice
from typing import NamedTuple

import numpy as np

from matcher.engine.bookable import first_bookable, recheck
from matcher.engine.nearby import BOTH, HOME_VISIT, IN_PERSON, Nearby, offering
from matcher.engine.remote import RemoteRanker, daily_histogram
from matcher.engine.rendering import RenderedColumns
from matcher.engine.slot_ids import parse_slot_id
from matcher.errors import Abandoned, NotFound
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
#: slot), and at least how many when it wants only a few more.
CANDIDATE_BATCH = 64
MIN_BATCH = 4
#: Remote candidates whose distances are measured together.
REMOTE_PIECE = 32
REMOTE_ONLY = frozenset({Modality.REMOTE})
#: Each set of nearby modalities with remote care added.
_WITH_REMOTE = {met: met | REMOTE_ONLY for met in (IN_PERSON, HOME_VISIT, BOTH)}


class Candidate(NamedTuple):
    """A supplier that passed the spatial and attribute filters, before its slots are known
    (a named tuple: a Match makes dozens, and a frozen dataclass costs several times more)."""

    position: int
    distance_km: float
    modalities: frozenset[Modality]
    score: float = 0.0  # remote suppliers' estimated weekly slots in the user's hours


class Catalog:
    """Every supplier of one feed, indexed by id, by place and by how remote ones suit a user."""

    def __init__(self, suppliers: Sequence[Supplier]) -> None:
        self.suppliers = tuple(suppliers)
        self._by_id = {s.id: i for i, s in enumerate(self.suppliers)}
        offered = offering(self.suppliers)
        self._nearby = Nearby(self.suppliers, offered=offered)
        remote = offered[Modality.REMOTE].tolist()
        self._offers_remote = np.zeros(len(self.suppliers), dtype=bool)
        self._offers_remote[remote] = True
        self._ranker = RemoteRanker(
            remote,
            [self.suppliers[i].timezone for i in remote],
            [daily_histogram(self.suppliers[i].availability) for i in remote],
        )

    def __len__(self) -> int:
        return len(self.suppliers)

    def supplier(self, supplier_id: str) -> Supplier:
        """One supplier by id, or NotFound."""
        try:
            return self.suppliers[self._by_id[supplier_id]]
        except KeyError:
            raise NotFound("supplier", supplier_id) from None

    def with_availability(self, changed: Mapping[str, Availability]) -> Catalog:
        """A copy in which some suppliers (by id) have new availability; the indexes are
        shared, as availability moves no supplier and changes no modality."""
        suppliers = list(self.suppliers)
        for supplier_id, availability in changed.items():
            position = self._by_id.get(supplier_id)
            if position is None:
                raise NotFound("supplier", supplier_id)
            suppliers[position] = replace(suppliers[position], availability=availability)
        updated = copy.copy(self)
        updated.suppliers = tuple(suppliers)
        return updated

    def match(
        self,
        query: MatchQuery,
        *,
        now: datetime,
        limit: int | None = None,
        wanted: Callable[[], bool] = lambda: True,
    ) -> list[Match]:
        """The first ``limit`` bookable suppliers for a query (all if None), ranked as it asks.

        Nearby suppliers come by distance and remote-only ones by score, and slots are expanded
        only as far as the answer needs. Ordered by earliest slot, the remote-only suppliers
        considered are the best-scoring ``remote_pool(limit)``. ``wanted`` is asked before each
        batch of candidates: once the caller has gone, the work stops with Abandoned.
        """
        seen: set[int] = set()
        nearby = self._nearby_candidates(query, seen=seen)
        remote = self._remote_candidates(query, exclude=seen)  # drawn only once nearby is done
        if query.order is Order.BY_DISTANCE:
            return self._bookable(
                chain(nearby, remote), query=query, now=now, needed=limit, wanted=wanted
            )
        pool = chain(nearby, islice(remote, remote_pool(limit)))
        found = self._bookable(pool, query=query, now=now, needed=None, wanted=wanted)
        return sorted(found, key=_earliest)[:limit]

    def _bookable(
        self,
        candidates: Iterator[Candidate],
        *,
        query: MatchQuery,
        now: datetime,
        needed: int | None,
        wanted: Callable[[], bool],
    ) -> list[Match]:
        """The first ``needed`` candidates (all if None) that have slots, with them.

        Candidates are taken in batches whose slots are expanded and rendered together: as
        many as are still needed (a few more when few are), or ``CANDIDATE_BATCH`` at a time
        when all are.
        """
        found: list[Match] = []
        while needed is None or len(found) < needed:
            if not wanted():
                raise Abandoned("the caller stopped waiting for this match")
            size = CANDIDATE_BATCH if needed is None else max(needed - len(found), MIN_BATCH)
            batch = list(islice(candidates, size))
            if not batch:
                break
            found.extend(self._with_slots(batch, query=query, now=now))
        return found if needed is None else found[:needed]

    def nearest(self, query: MatchQuery, *, limit: int) -> list[Candidate]:
        """The first ``limit`` suppliers serving the user's point in person or at home that
        pass the filters, nearest first: the spatial step of ``match`` alone."""
        return list(islice(self._nearby_candidates(query, seen=set()), limit))

    def _nearby_candidates(self, query: MatchQuery, *, seen: set[int]) -> Iterator[Candidate]:
        """Suppliers serving the user's point that pass the filters, nearest first; adds each
        yielded supplier's position to ``seen``."""
        if query.point is None:
            return
        remote_too = Modality.REMOTE in query.modalities
        filtered = bool(query.specialties or query.languages)
        for i, distance, met in self._nearby.by_distance(
            query.point, radius_km=query.radius_km, modalities=query.modalities
        ):
            if filtered and not _wanted(self.suppliers[i], query):
                continue
            if remote_too and self._offers_remote[i]:
                met = _WITH_REMOTE[met]
            seen.add(i)
            yield Candidate(position=i, distance_km=distance, modalities=met)

    def _remote_candidates(self, query: MatchQuery, *, exclude: set[int]) -> Iterator[Candidate]:
        """Remote suppliers not already nearby, best score first, distances measured a few
        at a time as the caller reads."""
        if Modality.REMOTE not in query.modalities or not len(self._ranker.positions):
            return
        ranking = self._ranker.ranking(
            user_zone=query.user_zone,
            hours=query.local_hours or WAKING_HOURS,
            at=query.window.start,
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
                        position=i, distance_km=distance, modalities=REMOTE_ONLY, score=score
                    )

    def _with_slots(
        self, candidates: Sequence[Candidate], *, query: MatchQuery, now: datetime
    ) -> list[Match]:
        """The candidates that have slots in the window and the user's hours, with their first
        ones, in order."""
        suppliers = [self.suppliers[c.position] for c in candidates]
        found = first_bookable(
            suppliers,
            window=query.window,
            now=now,
            user_zone=query.user_zone,
            local_hours=query.local_hours,
            limit=query.max_slots,
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
    ) -> tuple[Supplier, Sequence[RenderedSlot]]:
        """One supplier's bookable slots in a window, rendered for a user's zone."""
        supplier = self.supplier(supplier_id)
        (found,) = first_bookable(
            [supplier],
            window=window,
            now=now,
            user_zone=user_zone,
            local_hours=local_hours,
            limit=max_slots,
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
