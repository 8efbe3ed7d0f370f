"""How far a peer's answers agree with the service's, and why they differ where they do.

An answer is, per supplier in rank order, its id and its slots as (epoch seconds, minutes).
A supplier whose zone changes its UTC offset within the query's window (a spring-forward gap
or a fall-back fold) is counted apart: there PostgreSQL's ``AT TIME ZONE`` and the service's
documented DST policy disagree by design.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from matcher.geo.timezones import zone
from matcher.model import Window

#: (epoch seconds of the start, length in minutes)
SlotKey = tuple[int, int]
Answer = list[tuple[str, tuple[SlotKey, ...]]]
#: Differences kept in full, to show what kind they are.
MAX_EXAMPLES = 4


def changes_offset(zone_name: str, *, window: Window) -> bool:
    """Whether a zone's UTC offset changes between a day before and a day after a window."""
    tz = zone(zone_name)
    at, end = window.start - timedelta(days=1), window.end + timedelta(days=1)
    first = at.astimezone(tz).utcoffset()
    while at < end:
        at += timedelta(hours=1)
        if at.astimezone(tz).utcoffset() != first:
            return True
    return False


@dataclass
class Tally:
    """Counts over many queries; ``report`` turns them into the results' figures."""

    queries: int = 0
    same_suppliers: int = 0  # the same supplier ids in the same order
    same_but_last: int = 0  # the same ones in the same order but for the last of each answer
    same_answers: int = 0  # and the same slots for each
    suppliers: int = 0  # suppliers in the service's answers
    suppliers_missing: int = 0  # in the service's answer, not the peer's
    suppliers_extra: int = 0  # in the peer's answer, not the service's
    suppliers_missing_dst: int = 0
    suppliers_extra_dst: int = 0
    slots: int = 0  # slots of suppliers both answers hold, by the service's count
    slots_missing: int = 0  # the service's slots the peer lacks
    slots_extra: int = 0  # the peer's slots the service lacks
    slots_missing_dst: int = 0  # of those, in a zone whose offset changes in the window
    slots_extra_dst: int = 0
    suppliers_with_dst_change: int = 0  # suppliers both hold whose zone changes in the window
    examples: list[dict[str, object]] = field(default_factory=list)

    def add(
        self, *, ours: Answer, theirs: Answer, window: Window, zone_of: Callable[[str], str]
    ) -> None:
        """Compares one query's answers."""
        self.queries += 1
        ids, their_ids = [i for i, _ in ours], [i for i, _ in theirs]
        self.same_suppliers += ids == their_ids
        self.same_but_last += ids == their_ids or (
            len(ids) == len(their_ids) and ids[:-1] == their_ids[:-1]
        )
        self.same_answers += ours == theirs
        self.suppliers += len(ids)
        changing = {i: changes_offset(zone_of(i), window=window) for i in {*ids, *their_ids}}
        missing, extra = set(ids) - set(their_ids), set(their_ids) - set(ids)
        if (missing or extra) and len(self.examples) < MAX_EXAMPLES:
            self.examples.append(
                {"service_only": sorted(missing), "peer_only": sorted(extra), "service": ids}
            )
        self.suppliers_missing += len(missing)
        self.suppliers_extra += len(extra)
        self.suppliers_missing_dst += sum(changing[i] for i in missing)
        self.suppliers_extra_dst += sum(changing[i] for i in extra)
        their_slots = dict(theirs)
        for supplier_id, slots in ours:
            if supplier_id not in their_slots:
                continue
            self.suppliers_with_dst_change += changing[supplier_id]
            mine, other = set(slots), set(their_slots[supplier_id])
            self.slots += len(mine)
            lacking, added = len(mine - other), len(other - mine)
            self.slots_missing += lacking
            self.slots_extra += added
            if changing[supplier_id]:
                self.slots_missing_dst += lacking
                self.slots_extra_dst += added
            if (lacking or added) and len(self.examples) < MAX_EXAMPLES:
                self.examples.append(
                    {
                        "supplier_id": supplier_id,
                        "zone": zone_of(supplier_id),
                        "service_only": [_utc(s) for s in sorted(mine - other)],
                        "peer_only": [_utc(s) for s in sorted(other - mine)],
                    }
                )

    def report(self) -> dict[str, object]:
        """The figures: shares of queries that agree, and slot counts by cause."""
        n = max(self.queries, 1)
        return {
            "queries": self.queries,
            "same_supplier_ids_share": self.same_suppliers / n,
            "same_supplier_ids_but_the_last_share": self.same_but_last / n,
            "same_answer_share": self.same_answers / n,
            "suppliers": self.suppliers,
            "suppliers_missing": self.suppliers_missing,
            "suppliers_extra": self.suppliers_extra,
            "suppliers_missing_in_dst_zones": self.suppliers_missing_dst,
            "suppliers_extra_in_dst_zones": self.suppliers_extra_dst,
            "suppliers_in_zones_changing_offset": self.suppliers_with_dst_change,
            "slots": self.slots,
            "slots_missing": self.slots_missing,
            "slots_extra": self.slots_extra,
            "slots_missing_in_dst_zones": self.slots_missing_dst,
            "slots_extra_in_dst_zones": self.slots_extra_dst,
            "examples": self.examples,
        }


def _utc(slot: SlotKey) -> str:
    """A slot key as "YYYY-MM-DDTHH:MMZ +minutes", for the examples."""
    start, minutes = slot
    return f"{datetime.utcfromtimestamp(start):%Y-%m-%dT%H:%MZ} +{minutes}m"


def ids_agreement(
    *, ours: Sequence[Sequence[str]], theirs: Sequence[Sequence[str]]
) -> dict[str, float]:
    """Nearest-id lists compared: the same order, the same set, and the share of ours found."""
    pairs = list(zip(ours, theirs, strict=True))
    n = max(len(pairs), 1)
    return {
        "queries": len(pairs),
        "same_order_share": sum(list(a) == list(b) for a, b in pairs) / n,
        "same_set_share": sum(set(a) == set(b) for a, b in pairs) / n,
        "ids_found_share": sum(len(set(a) & set(b)) for a, b in pairs)
        / max(sum(len(a) for a, _ in pairs), 1),
    }
