"""Which store a process uses: PostgreSQL (``--store``), the SQLite journal (``--journal``), or a
private SQLite file that keeps feed generations only (updates refused)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from matcher.serving.postgresql import PostgresStore
from matcher.serving.sqlite import SqliteStore
from matcher.serving.store import Store
from matcher.settings import Settings

#: The private store's file name inside the scratch directory the caller owns.
PRIVATE_STORE = "generations.sqlite"


@dataclass(frozen=True)
class StoreChoice:
    """How to open a process's store, so each forked worker can open its own."""

    settings: Settings
    scratch: Path  # where a private store lives when neither --store nor --journal is given

    @property
    def accepts_updates(self) -> bool:
        """Whether real-time updates have a store to go to."""
        return bool(self.settings.store or self.settings.journal)

    def open(self) -> Store:
        """A new connection to the store (sqlite3.Error if a SQLite file cannot be opened)."""
        settings = self.settings
        if settings.store:
            return PostgresStore(settings.store, connect_timeout=settings.store_timeout_seconds)
        return SqliteStore(settings.journal or self.scratch / PRIVATE_STORE)


def choose(settings: Settings, *, scratch: Path) -> StoreChoice:
    """The store the settings name; ValueError when they name two."""
    if settings.store and settings.journal:
        raise ValueError("--store and --journal name two stores: give one")
    return StoreChoice(settings=settings, scratch=scratch)
