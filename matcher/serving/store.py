"""The store every serving process shares: the ordered log of updates and the feed generations.

Two backends keep the same contract: SQLite (matcher/serving/sqlite.py, one machine: the
``--journal`` file) and PostgreSQL (matcher/serving/postgresql.py, ``--store postgresql://...``,
any number of replicas). docs/operations.md describes the schema and its migrations.

The log is totally ordered by ``seq``, and an entry becomes visible only after every entry
with a smaller ``seq``: a writer holds the log's head row from taking its numbers until its
commit, so a follower that reads ``seq > last applied`` never skips one that commits late.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from matcher.errors import Unavailable, UpdateConflict
from matcher.model import Override, Slot, Update, Window


class StoreUnavailable(Unavailable):
    """The store cannot be reached or failed; nothing was recorded (or it is not known)."""


@dataclass(frozen=True)
class Entry:
    """One accepted update and its place in the log."""

    seq: int
    update: Update


@dataclass(frozen=True)
class Recorded:
    """An update as the log holds it: ``new`` when this call recorded it, else an equal retry."""

    entry: Entry
    new: bool


@dataclass(frozen=True, kw_only=True)
class FeedRecord:
    """Which feed a generation serves: where every replica finds it and what its bytes are."""

    source: str  # an absolute path (a shared volume) or an http(s) URL
    sha256: str  # hex digest of the file's bytes (of a snapshot directory: docs/operations.md)
    size: int  # bytes
    generated_at: datetime  # the feed header's generated_at: updates after it are replayed
    requested_by: str  # who asked for it, and how (start-up, SIGHUP, ReloadFeeds)
    requested_at: datetime


@dataclass(frozen=True, kw_only=True)
class Generation(FeedRecord):
    """A feed recorded as current, numbered from 1; the highest number is the current one."""

    number: int


@dataclass(frozen=True)
class Head:
    """Where the store is: the last entry's sequence number and the current generation (0: none)."""

    sequence: int
    generation: int


class Store(Protocol):
    """What a serving process needs of its store; every method may raise StoreUnavailable."""

    #: Where the store is, for logs and status: a path, or a URI without its password.
    description: str
    #: Whether processes on other machines share it (then page tokens must agree, etc.).
    shared: bool

    def head(self) -> Head:
        """The log's last sequence number and the current generation."""
        ...

    def append(self, changes: Sequence[Update]) -> list[Recorded | UpdateConflict]:
        """Records updates in one transaction, in order; one outcome per update.

        An update id seen before with the same change gives that first entry (``new`` false);
        with another change, UpdateConflict. Durable when this returns.
        """
        ...

    def entries(
        self, *, after: int, limit: int, accepted_after: datetime | None = None
    ) -> list[Entry]:
        """Up to ``limit`` entries with ``seq > after`` in sequence order, optionally only those
        accepted after an instant."""
        ...

    def generation(self, number: int) -> Generation | None:
        """One generation by number, if the store still has it."""
        ...

    def record_generation(self, feed: FeedRecord, *, expected: int | None) -> Generation | None:
        """Makes a feed the new current generation; with ``expected``, only if the current one
        is still that number (None when it is not)."""
        ...

    def wait(self, timeout: float) -> None:
        """Blocks until the store may have changed, or ``timeout`` seconds have passed."""
        ...

    def wake(self) -> None:
        """Ends this process's ``wait`` in progress, if any (best effort: never raises)."""
        ...

    def compact(self, *, now: datetime, grace: timedelta) -> int:
        """Deletes the entries nobody can need any more (docs/operations.md); how many."""
        ...

    def secret(self, name: str) -> bytes:
        """A random 32-byte secret every process of this store shares, made on first use."""
        ...

    def close(self) -> None:
        """Releases connections; the store cannot be used afterwards."""
        ...


def refuse_newer_schema(found: int, *, latest: int) -> None:
    """Refuses a store whose schema a newer matcher wrote: this one would misread it."""
    if found > latest:
        raise StoreUnavailable(
            f"the store's schema is version {found}, newer than this matcher knows "
            f"({latest}): run a newer matcher"
        )


def encode(change: Update) -> str:
    """What an update changes, as JSON text: its window and its slots, in RFC 3339 instants."""
    window = change.override.window
    return json.dumps(
        {
            "supplier_id": change.supplier_id,
            "window": {"start": window.start.isoformat(), "end": window.end.isoformat()},
            "slots": [
                {"start": s.start.isoformat(), "end": s.end.isoformat()}
                for s in change.override.slots
            ],
        }
    )


def decode(*, update_id: str, accepted_at: datetime, payload: str | dict[str, Any]) -> Update:
    """An update from the log's columns (``payload`` as text or as decoded JSON)."""
    data = json.loads(payload) if isinstance(payload, str) else payload
    return Update(
        update_id=update_id,
        supplier_id=data["supplier_id"],
        override=Override(
            window=Window(
                start=datetime.fromisoformat(data["window"]["start"]),
                end=datetime.fromisoformat(data["window"]["end"]),
            ),
            slots=tuple(
                Slot(start=datetime.fromisoformat(s["start"]), end=datetime.fromisoformat(s["end"]))
                for s in data["slots"]
            ),
        ),
        received_at=accepted_at,
    )


def planned(
    changes: Sequence[Update], earlier: dict[str, Entry], *, after: int
) -> tuple[list[Recorded | UpdateConflict], list[Entry]]:
    """What appending ``changes`` after sequence ``after`` gives, one outcome each, and the new
    entries to insert; ``earlier`` holds the entries their ids already have in the log."""
    known = dict(earlier)
    outcomes: list[Recorded | UpdateConflict] = []
    fresh: list[Entry] = []
    for change in changes:
        first = known.get(change.update_id)
        if first is None:
            entry = Entry(after + len(fresh) + 1, change)
            known[change.update_id] = entry
            fresh.append(entry)
            outcomes.append(Recorded(entry, new=True))
        elif first.update.same_change(change):
            outcomes.append(Recorded(first, new=False))
        else:
            outcomes.append(UpdateConflict(change.update_id))
    return outcomes, fresh
