"""Group commit: the updates that arrive together are written in one store transaction.

A commit waits for the disk (a few milliseconds), and the log's head row lets one writer commit
at a time, so one transaction per update would cap a store at a few hundred updates a second.
One writer thread per process takes every update waiting, up to ``most``, appends them in one
transaction, and answers each caller with its own outcome.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future

from matcher.errors import UpdateConflict
from matcher.model import Update
from matcher.serving.store import Recorded, Store

#: Most updates in one transaction.
MOST = 256


class Appender:
    """Appends updates to a store in batches, from one writer thread started on first use."""

    def __init__(self, store: Store, *, most: int = MOST) -> None:
        self._store = store
        self._most = most
        self._waiting: queue.SimpleQueue[tuple[Update, Future[Recorded]]] = queue.SimpleQueue()
        self._started = threading.Lock()
        self._writer: threading.Thread | None = None

    def append(self, change: Update) -> Recorded:
        """Records one update; durable when this returns.

        Raises UpdateConflict for an id used before for another change, StoreUnavailable when
        the store could not record it (then it may or may not be recorded: retry with its id).
        """
        with self._started:
            if self._writer is None:
                self._writer = threading.Thread(target=self._write, name="appender", daemon=True)
                self._writer.start()
        done: Future[Recorded] = Future()
        self._waiting.put((change, done))
        return done.result()

    def _write(self) -> None:
        """The writer: one transaction for all the updates waiting, for ever."""
        while True:
            batch = [self._waiting.get()]
            while len(batch) < self._most:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            try:
                outcomes = self._store.append([change for change, _ in batch])
            except Exception as exc:  # every caller of the batch gets the store's failure
                for _, done in batch:
                    done.set_exception(exc)
                continue
            for (_, done), outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, UpdateConflict):
                    done.set_exception(outcome)
                else:
                    done.set_result(outcome)
