"""The supplier catalogue: loaded once, indexed, and matched against a user's query."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import chain, islice

from matcher.engine.bookable import first_slots, recheck
from matcher.engine.budget import Budget
from matcher.engine.chunked import Chunked
from matcher.engine.nearby import Nearby, having
from matcher.engine.remote import RemoteRanker, daily_histogram
from matcher.engine.slot_ids import parse_slot_id
from matcher.errors import NotFound
from matcher.geo.timezones import zone
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


@dataclass(frozen=True)
class Candidate:
    """A supplier that passed the spatial and attribute filters, before its slots are known."""

    index: int
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
        self._nearby = Nearby(every)
        remote = having(every, Modality.REMOTE).tolist()
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

        def bookable(candidates: Iterable[Candidate]) -> Iterator[Match]:
            for candidate in budget.examined(candidates):
                found = self._with_slots(candidate, query=query, now=now, budget=budget)
                if found is not None:
                    yield found

        if query.order is Order.BY_DISTANCE:
            return list(islice(bookable(chain(nearby, remote)), limit))
        pool = chain(nearby, islice(remote, remote_pool(limit)))
        return sorted(bookable(pool), key=_earliest)[:limit]

    def _nearby_candidates(self, query: MatchQuery, *, seen: set[int]) -> Iterator[Candidate]:
        """Suppliers serving the user's point that pass the filters, nearest first; adds each
        yielded supplier's position to ``seen``."""
        if query.point is None:
            return
        for i, distance, met in self._nearby.by_distance(
            query.point, radius_km=query.radius_km, modalities=query.modalities
        ):
            supplier = self.suppliers[i]
            if not _wanted(supplier, query):
                continue
            if Modality.REMOTE in query.modalities and Modality.REMOTE in supplier.modalities:
                met |= {Modality.REMOTE}
            seen.add(i)
            yield Candidate(index=i, distance_km=distance, modalities=met)

    def _remote_candidates(self, query: MatchQuery, *, exclude: set[int]) -> Iterator[Candidate]:
        """Remote suppliers not already nearby, best score first, distance measured lazily."""
        if Modality.REMOTE not in query.modalities or not len(self._ranker.positions):
            return
        hours = query.local_hours or WAKING_HOURS
        for i, score in self._ranker.ranked(
            user_zone=query.user_zone, hours=hours, at=query.window.start
        ):
            if i in exclude or not _wanted(self.suppliers[i], query):
                continue
            yield Candidate(
                index=i,
                distance_km=self._nearby.distance_km(query.point, i),
                modalities=frozenset({Modality.REMOTE}),
                score=score,
                ranked_by=hours,
            )

    def _with_slots(
        self, candidate: Candidate, *, query: MatchQuery, now: datetime, budget: Budget
    ) -> Match | None:
        """The candidate with its first slots in the window and the user's hours; None if none."""
        supplier = self.suppliers[candidate.index]
        slots = first_slots(
            supplier,
            window=query.window,
            now=now,
            user_tz=zone(query.user_zone),
            local_hours=query.local_hours,
            limit=query.max_slots,
            budget=budget,
            preferred_hours=candidate.ranked_by,
        )
        if not slots:
            return None
        return Match(
            supplier=supplier,
            distance_km=candidate.distance_km,
            modalities=candidate.modalities,
            slots=tuple(slots),
            score=candidate.score,
        )

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
    ) -> tuple[Supplier, list[RenderedSlot]]:
        """One supplier's bookable slots in a window, rendered for a user's zone; the budget
        caps the slots expanded."""
        supplier = self.supplier(supplier_id)
        return supplier, first_slots(
            supplier,
            window=window,
            now=now,
            user_tz=zone(user_zone),
            local_hours=local_hours,
            limit=max_slots,
            budget=budget,
        )

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


def _earliest(m: Match) -> tuple[datetime, float, str]:
    """The BY_EARLIEST_SLOT key: first slot, then distance, then id."""
    return (m.slots[0].start, m.distance_km, m.supplier.id)


def remote_pool(limit: int | None) -> int | None:
    """How many best-scoring remote suppliers compete for the earliest slot."""
    return None if limit is None else max(100, 5 * limit)
