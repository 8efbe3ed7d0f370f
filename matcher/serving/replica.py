"""One serving process's view of the shared truth: it loads the store's current generation,
replays the log after it, then follows the store, applying each entry once and in order.

Every replica and every ``--workers`` process has one. At start it waits for the store (with
backoff), loads the current generation's feed (recording its own ``--feed`` as the first
generation when the store has none) and catches up; then a follower thread wakes on the
store's notifications (or its poll) and applies new entries, and loads a new generation beside
the serving catalogue when one is recorded, swapping it in once it has caught up. A reload on
any process validates the feed first and records a generation only if it passes, so a refused
feed changes nothing anywhere. docs/operations.md is the operator's account of all this.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import cast

from matcher import metrics
from matcher.engine.catalog import Catalog
from matcher.errors import FailedPrecondition, FeedError, FeedRejected, Reason, Unavailable
from matcher.model import Update
from matcher.serving import sources
from matcher.serving.appender import Appender
from matcher.serving.holder import CatalogHolder, Snapshot, applied, build
from matcher.serving.store import FeedRecord, Generation, Head, Recorded, Store, StoreUnavailable
from matcher.settings import Settings

log = logging.getLogger("matcher.replica")

#: Entries read from the store at once.
PAGE = 5000
#: The first wait before trying the store (or a refused generation) again; it doubles from there.
FIRST_RETRY_S = 0.5
#: The name the page-token secret is kept under in the store.
PAGE_TOKEN_SECRET = "page_tokens"


@dataclass(frozen=True)
class Refusal:
    """A feed this process refused, and why; ``generation`` 0 when it was never recorded."""

    at: datetime
    path: str
    summary: str
    errors: tuple[FeedError, ...]
    generation: int = 0


@dataclass(frozen=True, kw_only=True)
class Replication:
    """Where this process is next to its store."""

    process: str  # this process: host and pid
    store: str  # the store's description: a path or a URI without password
    shared: bool  # PostgreSQL: other machines follow it too
    ready: bool  # caught up once since start: health says SERVING
    applied: int  # the last log entry this process serves
    store_sequence: int  # the store's last entry, as last read
    store_generation: Generation | None  # the store's current generation, as last read
    reachable: bool  # the store answered the last time it was asked
    store_error: str  # why it did not, if it did not
    checked_at: datetime | None  # when the store last answered

    @property
    def lag(self) -> int:
        """Entries the store holds that this process does not serve yet."""
        return max(self.store_sequence - self.applied, 0)


@dataclass(frozen=True)
class FeedStatus:
    """What is serving, the last refusal since it was loaded (if any), and the store."""

    serving: Snapshot
    last_refusal: Refusal | None
    max_rejected_share: float  # the share of bad records a feed may leave out
    replication: Replication


@dataclass(frozen=True)
class Accepted:
    """An update as the store recorded it, and whether this process served it on answering."""

    recorded: Recorded
    served: bool


class Backoff:
    """Waits that double from ``first`` up to ``most``, with a little jitter."""

    def __init__(self, *, first: float = FIRST_RETRY_S, most: float) -> None:
        self._first, self._most = first, most
        self._next = first

    def next(self) -> float:
        """The next wait, in seconds."""
        delay = self._next
        self._next = min(self._next * 2, self._most)
        return delay * random.uniform(0.8, 1.2)

    def reset(self) -> None:
        """Back to the first wait, after a success."""
        self._next = self._first


class Replica:
    """The serving state of one process, kept in step with the store."""

    def __init__(
        self,
        *,
        store: Store,
        settings: Settings,
        source: str,
        accepts_updates: bool,
        clock: Callable[[], datetime],
        who: str,
    ) -> None:
        """Nothing is loaded until ``start``; ``source`` is the configured feed."""
        self._store = store
        self._settings = settings
        self._source = sources.canonical(source)
        self._accepts_updates = accepts_updates
        self._clock = clock
        self._who = who
        self._cache = settings.feed_cache or sources.default_cache()
        self._holder: CatalogHolder | None = None
        self._appender = Appender(store)
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._applying = threading.Lock()  # catch-ups and swaps, one at a time
        self._reloading = threading.Lock()  # reloads asked of this process, one at a time
        self._state = threading.Lock()  # the fields below
        self._refusal: Refusal | None = None
        self._pending: Snapshot | None = None  # a new generation loaded, not yet swapped in
        self._loading = 0  # the generation being loaded in the background (0: none)
        self._retry: dict[int, tuple[float, Backoff]] = {}  # refused generations: when to retry
        self._head: Head | None = None
        self._generations: dict[int, Generation] = {}
        self._reachable, self._error = False, ""
        self._checked_at: datetime | None = None
        self._secret: bytes | None = None
        self._follower: threading.Thread | None = None
        self._keep_built = False
        self._built_last: tuple[tuple[str, int], Snapshot] | None = None

    # -- serving ---------------------------------------------------------------------------

    def current(self) -> Catalog:
        """The catalogue serving now; Unavailable until the first one is loaded."""
        holder = self._holder
        if holder is None:
            raise _loading()
        return holder.current()

    def snapshot(self) -> Snapshot:
        """The snapshot serving now; Unavailable until the first one is loaded."""
        if self._holder is None:
            raise _loading()
        return self._holder.snapshot()

    @property
    def store_description(self) -> str:
        """The store, as logs name it: a path, or a URI without its password."""
        return self._store.description

    @property
    def who(self) -> str:
        """This process, as generations record who asked for them: host and pid."""
        return self._who

    def ready(self) -> bool:
        """Whether this process has caught up with the store since it started."""
        return self._ready.is_set()

    def page_secret(self) -> bytes:
        """The page-token secret every process of this store shares (read at start)."""
        if self._secret is None:
            raise _loading()
        return self._secret

    # -- start-up --------------------------------------------------------------------------

    def start(self) -> Snapshot:
        """Loads the store's current generation and catches up with the log; blocks until done.

        Waits for an unreachable store (or a feed that cannot be fetched) and tries again with
        backoff, logging why. Raises FeedRejected when the feed this process would record as
        a new generation is refused, and Unavailable if ``stop`` is called meanwhile.
        """
        backoff = Backoff(most=self._settings.store_retry_max_seconds)
        self._keep_built = True  # a feed loaded before the store failed is not loaded again
        while not self._stopping.is_set():
            try:
                self._secret = self._store.secret(PAGE_TOKEN_SECRET)
                snapshot = self._first_snapshot()
            except StoreUnavailable as exc:
                self._unreachable(exc, waiting=backoff.next(), starting=True)
                continue
            except _Unfetchable as exc:
                delay = backoff.next()
                log.error("%s; not serving yet, trying again in %.1f s", exc, delay)
                self._stopping.wait(delay)
                continue
            self._reached()
            self._holder = CatalogHolder(snapshot, clock=self._clock)
            self._keep_built, self._built_last = False, None
            self._ready.set()
            return snapshot
        raise Unavailable("stopped before the feed was loaded")

    def _first_snapshot(self) -> Snapshot:
        """The current generation loaded and caught up, after recording the configured feed as
        a new generation when the store has none, or when its bytes changed in place."""
        while True:
            head = self._read_head()
            current = self._generation(head.generation)
            if current is not None and current.source != self._source:
                log.info(
                    "serving generation %d (%s) from the store; the configured feed %s is "
                    "for reloads",
                    current.number,
                    sources.shown(current.source),
                    sources.shown(self._source),
                )
                return self._caught_up(self._load(current))
            try:
                fetched = self._fetch(self._source)
            except FeedRejected as exc:
                if current is None:
                    raise  # the first feed cannot be read: the process cannot start
                log.warning(
                    "the configured feed cannot be read now (%s); serving generation %d",
                    exc.summary,
                    current.number,
                )
                return self._caught_up(self._load(current))
            if current is not None and (fetched.sha256, fetched.size) == (
                current.sha256,
                current.size,
            ):
                return self._caught_up(self._built(fetched, generation=current))
            snapshot = self._built(fetched, generation=None)
            who = f"start-up of {self._who}"
            recorded = self._record(
                snapshot, fetched, source=self._source, requested_by=who, expected=head.generation
            )
            if recorded is not None:
                return self._caught_up(recorded)
            # another process recorded a generation meanwhile: start over from the store

    # -- following -------------------------------------------------------------------------

    def follow(self, *, on_ready: Callable[[], None] = lambda: None) -> None:
        """Starts following the store in a thread; ``on_ready`` runs once caught up."""
        self._stopping.clear()
        self._follower = threading.Thread(
            target=self._follow, args=(on_ready,), name="follower", daemon=True
        )
        self._follower.start()

    def _follow(self, on_ready: Callable[[], None]) -> None:
        """The follower: catch up, compact when due, wait for the store; back off when lost."""
        backoff = Backoff(most=self._settings.store_retry_max_seconds)
        compacted = time.monotonic()
        while not self._stopping.is_set():
            try:
                self.catch_up()
                self._reached()
                backoff.reset()
                if not self._ready.is_set():
                    self._ready.set()
                    on_ready()
                if time.monotonic() - compacted >= self._settings.compact_every_seconds:
                    compacted = time.monotonic()
                    self.compact()
                self._store.wait(self._settings.store_poll_seconds)
            except StoreUnavailable as exc:
                if self._stopping.is_set():
                    return
                self._unreachable(exc, waiting=backoff.next())
            except Exception:  # a bug: say so loudly, keep serving what is applied
                log.exception("following the store failed; trying again")
                self._stopping.wait(backoff.next())

    def catch_up(self) -> Snapshot:
        """Reads the store once: applies the entries after the last applied one, in order, and
        starts loading a newer generation (or swaps in one loaded) when there is one."""
        holder = self._serving_holder()
        with self._applying:
            head = self._read_head()
            self._maybe_load(head)
            pending = self._take_pending()
            if pending is not None:
                self._swap(holder, pending)
            while True:
                batch = self._store.entries(after=holder.snapshot().applied, limit=PAGE)
                if not batch:
                    serving = holder.snapshot()
                    metrics.store_position(applied=serving.applied, latest=head.sequence)
                    return serving
                holder.apply(batch)

    def _maybe_load(self, head: Head) -> None:
        """Starts loading the store's current generation in the background, if it is newer
        than the one serving and neither loading, nor refused and waiting for its retry."""
        number = head.generation
        serving = self._serving_holder().snapshot().generation
        if serving is not None and serving.number >= number:
            return
        with self._state:
            waiting = self._retry.get(number)
            pending = self._pending.generation if self._pending else None
            if (
                self._loading
                or (waiting and time.monotonic() < waiting[0])
                or (pending is not None and pending.number >= number)
                or self._reloading.locked()  # a reload here swaps its own generation in
            ):
                return
            self._loading = number
        threading.Thread(target=self._load_in_background, args=(number,), daemon=True).start()

    def _load_in_background(self, number: int) -> None:
        """Loads a generation beside the serving catalogue; the follower swaps it in."""
        try:
            generation = self._generation(number)
            if generation is None:
                return
            log.info(
                "loading generation %d (%s) beside the serving catalogue",
                number,
                sources.shown(generation.source),
            )
            snapshot = self._replayed(self._load(generation))
            with self._state:
                self._pending = snapshot
                self._retry.pop(number, None)
        except _Unfetchable as exc:
            self._refuse_generation(number, exc.rejected)
        except FeedRejected as exc:
            self._refuse_generation(number, exc)
        except StoreUnavailable as exc:
            log.warning("loading generation %d: %s; trying again", number, exc)
        except Exception:
            log.exception("loading generation %d failed", number)
        finally:
            with self._state:
                self._loading = 0
        self.wake()

    def _refuse_generation(self, number: int, exc: FeedRejected) -> None:
        """Records that this process cannot serve a generation, and when to try it again."""
        with self._state:
            backoff = self._retry[number][1] if number in self._retry else _retries()
            delay = backoff.next()
            self._retry[number] = (time.monotonic() + delay, backoff)
            self._refusal = _refusal(exc, at=self._clock(), generation=number)
        log.error(
            "generation %d refused here, still serving the previous one; trying it again in"
            " %.0f s: %s",
            number,
            delay,
            exc.summary,
        )

    def _take_pending(self) -> Snapshot | None:
        """The loaded generation waiting to be swapped in, if any (taken out of waiting)."""
        with self._state:
            pending, self._pending = self._pending, None
        return pending

    def _swap(self, holder: CatalogHolder, pending: Snapshot) -> None:
        """Swaps in a loaded generation once it has every entry the serving one has.

        Called with ``_applying`` held. If the store fails on the way, the generation waits.
        """
        serving = holder.snapshot().generation
        assert pending.generation is not None
        if serving is not None and serving.number >= pending.generation.number:
            return  # a newer one serves already
        try:
            caught_up = self._caught_up(pending)
        except StoreUnavailable:
            with self._state:
                self._pending = self._pending or pending
            raise
        holder.install(caught_up)
        with self._state:
            if self._refusal is not None and self._refusal.generation <= pending.generation.number:
                self._refusal = None
        log.info(
            "serving generation %d: %d suppliers from %s, log applied to %d",
            pending.generation.number,
            len(caught_up.catalog),
            sources.shown(pending.generation.source),
            caught_up.applied,
        )

    def wake(self) -> None:
        """Asks the follower to read the store now rather than at its next poll."""
        with self._state:
            follower = self._follower
        if follower is not None and follower.is_alive():
            threading.Thread(target=self._catch_up_quietly, daemon=True).start()

    def _catch_up_quietly(self) -> None:
        """One catch-up whose failure the follower will meet again and report."""
        with contextlib.suppress(StoreUnavailable, Unavailable):
            self.catch_up()

    def compact(self) -> int:
        """Deletes the log entries nobody can need any more; how many (0 if the store failed)."""
        try:
            done = self._store.compact(now=self._clock(), grace=self._settings.compact_after)
        except StoreUnavailable as exc:
            log.warning("compaction skipped: %s", exc)
            return 0
        if done:
            log.info("compacted %d log entries away", done)
        return done

    # -- operator's requests -----------------------------------------------------------------

    def reload(self, *, source: str = "", requested_by: str = "") -> Snapshot:
        """Validates a feed (the configured one unless ``source`` names another), records it as
        the new generation and swaps it in here; every other process follows.

        Raises FeedRejected, recording nothing, when the feed is refused, and Unavailable when
        the store cannot record it.
        """
        holder = self._serving_holder()
        chosen = sources.canonical(source) if source else self._source
        with self._reloading:
            try:
                fetched = self._fetch(chosen)
                snapshot = self._built(fetched, generation=None)
            except FeedRejected as exc:
                with self._state:
                    self._refusal = _refusal(exc, at=self._clock())
                raise
            recorded = self._record(
                snapshot, fetched, source=chosen, requested_by=requested_by, expected=None
            )
            assert recorded is not None
            with self._applying:
                self._swap(holder, recorded)
            if source:
                self._source = chosen
            return holder.snapshot()

    def update(self, change: Update, *, wait: bool) -> Accepted:
        """Records an update in the store, then (with ``wait``) waits until this process serves
        it, for at most ``--apply-wait-seconds``.

        Raises NotFound for a supplier this process does not list, FailedPrecondition when the
        process has no store for updates, UpdateConflict for a reused id with another change,
        and StoreUnavailable when the store could not record it.
        """
        if not self._accepts_updates:
            raise FailedPrecondition(
                "real-time updates need a store: start with --journal or --store",
                reason=Reason.UPDATES_DISABLED,
            )
        holder = self._serving_holder()
        holder.current().supplier(change.supplier_id)
        recorded = self._appender.append(change)
        served = holder.snapshot().applied >= recorded.entry.seq
        if wait and not served:  # the follower wakes on the store's notice of this commit
            served = holder.wait_applied(
                recorded.entry.seq, timeout=self._settings.apply_wait_seconds
            )
        return Accepted(recorded=recorded, served=served)

    def status(self) -> FeedStatus:
        """What this process serves next to what the store holds (read now, if it answers)."""
        snapshot = self.snapshot()
        reachable, error, checked_at = True, "", cast(datetime | None, self._clock())
        try:
            head: Head | None = self._read_head()
            store_generation = self._generation(head.generation) if head else None
        except StoreUnavailable as exc:
            reachable, error = False, str(exc)
            with self._state:
                head, checked_at = self._head, self._checked_at
            store_generation = self._generations.get(head.generation) if head else None
        replication = Replication(
            process=self._who,
            store=self._store.description,
            shared=self._store.shared,
            ready=self.ready(),
            applied=snapshot.applied,
            store_sequence=head.sequence if head else 0,
            store_generation=store_generation,
            reachable=reachable,
            store_error=error,
            checked_at=checked_at,
        )
        with self._state:
            refusal = self._refusal
        return FeedStatus(
            serving=snapshot,
            last_refusal=refusal,
            max_rejected_share=self._settings.max_rejected_share,
            replication=replication,
        )

    # -- processes ---------------------------------------------------------------------------

    def detach(self) -> None:
        """Closes the store before a fork: the children each open their own (``attach``)."""
        self._store.close()

    def attach(self, store: Store, *, who: str) -> None:
        """Follows a new store connection (a forked worker's own, ``who``) from the snapshot
        inherited; not ready until the follower has caught up."""
        self._store = store
        self._who = who
        self._appender = Appender(store)
        self._ready.clear()

    def cancel(self) -> None:
        """Ends a start-up still waiting for the store (from a signal handler: no blocking)."""
        self._stopping.set()

    def stop(self) -> None:
        """Stops following (and a start-up still waiting) and closes the store."""
        self._stopping.set()
        follower = self._follower
        if follower is not None:
            if self._reachable:  # else the follower waits on nothing the store could end
                self._store.wake()
            follower.join(timeout=self._settings.store_poll_seconds + 5)
        self._store.close()

    # -- helpers -----------------------------------------------------------------------------

    def _serving_holder(self) -> CatalogHolder:
        """The holder; Unavailable before the first snapshot."""
        if self._holder is None:
            raise _loading()
        return self._holder

    def _read_head(self) -> Head:
        """The store's head, remembered for the status."""
        head = self._store.head()
        with self._state:
            self._head = head
        return head

    def _generation(self, number: int) -> Generation | None:
        """A generation by number (0: none), remembered: they never change."""
        if number == 0:
            return None
        known = self._generations.get(number)
        if known is None:
            known = self._store.generation(number)
            if known is not None:
                self._generations[number] = known
        return known

    def _load(self, generation: Generation) -> Snapshot:
        """A recorded generation's feed fetched, checked against its checksum, and loaded.

        Raises _Unfetchable when it cannot be fetched or its bytes differ, FeedRejected when
        the feed itself is refused.
        """
        started = time.perf_counter()
        try:
            fetched = self._fetch(generation.source, expect=(generation.sha256, generation.size))
        except FeedRejected as exc:
            raise _Unfetchable(generation, exc) from None
        snapshot = self._built(fetched, generation=generation)
        return replace(snapshot, load_seconds=time.perf_counter() - started)

    def _fetch(self, source: str, *, expect: tuple[str, int] | None = None) -> sources.Fetched:
        """A feed fetched into reach (downloaded into the cache if a URL); FeedRejected if not."""
        return sources.fetch(
            source,
            cache=self._cache,
            expect=expect,
            timeout=self._settings.download_timeout_seconds,
        )

    def _built(self, fetched: sources.Fetched, *, generation: Generation | None) -> Snapshot:
        """A fetched feed loaded and indexed; FeedRejected if refused. At start, the last one is
        kept, so that a retry after the store failed does not load the same bytes again."""
        key = (fetched.sha256, fetched.size)
        if self._built_last is not None and self._built_last[0] == key:
            return replace(self._built_last[1], generation=generation)
        snapshot = build(
            fetched.path,
            max_rejected_share=self._settings.max_rejected_share,
            clock=self._clock,
        )
        if self._keep_built:
            self._built_last = (key, snapshot)
        return replace(snapshot, generation=generation)

    def _record(
        self,
        snapshot: Snapshot,
        fetched: sources.Fetched,
        *,
        source: str,
        requested_by: str,
        expected: int | None,
    ) -> Snapshot | None:
        """Records a validated feed as the new generation; the snapshot carries it, replayed.

        None when ``expected`` is given and another generation was recorded meanwhile.
        """
        replayed = self._replayed(snapshot)
        generation = self._store.record_generation(
            FeedRecord(
                source=source,
                sha256=fetched.sha256,
                size=fetched.size,
                generated_at=snapshot.feed.generated_at,
                requested_by=requested_by,
                requested_at=self._clock(),
            ),
            expected=expected,
        )
        if generation is None:
            return None
        self._generations[generation.number] = generation
        log.info(
            "recorded generation %d: %s (SHA-256 %s, %d bytes), asked by %s",
            generation.number,
            sources.shown(generation.source),
            generation.sha256[:12],
            generation.size,
            requested_by,
        )
        return replace(replayed, generation=generation)

    def _replayed(self, snapshot: Snapshot) -> Snapshot:
        """A new feed's snapshot with the log's updates newer than the feed applied, up to the
        store's head as read first."""
        head = self._read_head()
        since = snapshot.feed.generated_at
        while True:
            batch = self._store.entries(after=snapshot.applied, limit=PAGE, accepted_after=since)
            if not batch:
                break
            snapshot = applied(snapshot, batch, now=self._clock())
        return replace(snapshot, applied=max(snapshot.applied, head.sequence))

    def _caught_up(self, snapshot: Snapshot) -> Snapshot:
        """A snapshot with every entry the store holds after its last applied one."""
        snapshot = self._replayed(snapshot) if snapshot.applied == 0 else snapshot
        while True:
            batch = self._store.entries(after=snapshot.applied, limit=PAGE)
            if not batch:
                return snapshot
            snapshot = applied(snapshot, batch, now=self._clock())

    def _reached(self) -> None:
        """Notes that the store answered; logs its return after an outage."""
        with self._state:
            was, self._reachable = self._reachable, True
            self._checked_at, lost, self._error = self._clock(), self._error, ""
        if not was and lost:
            log.info("store %s reachable again; following it", self._store.description)

    def _unreachable(
        self, exc: StoreUnavailable, *, waiting: float, starting: bool = False
    ) -> None:
        """Notes that the store did not answer, says so once per outage, and waits."""
        with self._state:
            was, self._reachable, self._error = self._reachable, False, str(exc)
        if starting:
            log.warning(
                "store unreachable, not serving yet; trying again in %.1f s: %s", waiting, exc
            )
        elif was:
            applied_to = self._holder.snapshot().applied if self._holder else 0
            log.warning(
                "store lost: still serving what is applied (log entry %d); updates are refused"
                " until it returns: %s",
                applied_to,
                exc,
            )
        if waiting:
            self._stopping.wait(waiting)


class _Unfetchable(Exception):
    """A recorded generation whose feed cannot be fetched or is not the bytes recorded."""

    def __init__(self, generation: Generation, rejected: FeedRejected) -> None:
        self.generation = generation
        self.rejected = rejected
        super().__init__(f"generation {generation.number}: {rejected.summary}")


def _refusal(exc: FeedRejected, *, at: datetime, generation: int = 0) -> Refusal:
    """A refusal record from the error that refused a feed."""
    return Refusal(
        at=at, path=exc.path, summary=exc.summary, errors=tuple(exc.errors), generation=generation
    )


def _loading() -> Unavailable:
    """What a call meets before the first feed is loaded and the log caught up."""
    return Unavailable(
        "the supplier feed is still loading; retry shortly", reason=Reason.FEED_LOADING
    )


def _retries() -> Backoff:
    """How often a refused generation is tried again: soon, then at most every five minutes."""
    return Backoff(first=5.0, most=300.0)
