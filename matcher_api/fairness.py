"""How callers share one process: threads taken caller by caller, and a fair CPU turn.

Python runs one thread at a time, so a caller with a few CPU-heavy calls running slows every
other call by as many times, however many threads there are. Calls that compute (the matcher's
own RPCs) therefore take the ``Turnstile``: one of them computes at a time, the turn goes to
the waiting caller that has used it least lately, and a long call offers it up at each
``checkpoint`` (the engine asks between candidates and every few hundred slots). An ordinary
call from a quiet caller so waits at most one step of someone else's long call.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("matcher.fairness")
#: How long a turn is kept before a checkpoint offers it to a caller that has used less.
QUANTUM_S = 0.002
#: How fast a caller's past use is forgotten: halved every this many seconds.
HALF_LIFE_S = 2.0
#: Callers whose use has decayed below this are forgotten altogether.
FORGOTTEN_S = 1e-4

_current = threading.local()  # the turn the running thread holds, if any
_working = threading.local()  # the FairPool task the running thread executes, if any


class FairPool:
    """Threads that run calls caller by caller in turn, so one caller's flood queues behind no one.

    Each caller (a token) has its own queue, holding no thread; the threads take the next call
    from the callers in rotation, each caller at most ``running_per_caller`` at once. A caller
    may have ``in_flight_per_caller`` calls queued or running, and all callers together
    ``in_flight`` (None: no cap); ``admits`` says when there is no room left, so the gate can
    refuse the call before it is queued.
    """

    def __init__(
        self,
        *,
        threads: int,
        running_per_caller: int,
        in_flight_per_caller: int,
        in_flight: int | None = None,
    ) -> None:
        self.running_per_caller = running_per_caller
        self.in_flight_per_caller = in_flight_per_caller
        self.in_flight = in_flight
        self._changed = threading.Condition()
        self._queues: dict[Hashable, deque[_Task]] = {}
        self._ready: deque[Hashable] = deque()  # callers with a queued call and room to run it
        self._running: Counter[Hashable] = Counter()
        self._in_flight: Counter[Hashable] = Counter()
        for number in range(threads):
            name = f"matcher-worker-{number}"
            threading.Thread(target=self._work, name=name, daemon=True).start()

    def admits(self, caller: Hashable) -> bool:
        """Whether one more call of ``caller`` may be queued."""
        with self._changed:
            if self.in_flight is not None and self._in_flight.total() >= self.in_flight:
                return False
            return self._in_flight[caller] < self.in_flight_per_caller

    def lane(
        self, caller: Hashable, *, turnstile: Turnstile | None = None
    ) -> futures.ThreadPoolExecutor:
        """An executor whose ``submit`` queues on this pool as ``caller`` (what gRPC calls);
        with a turnstile, each call runs whole (parsing to sending) with its turn held."""
        return _Lane(self, caller, turnstile)

    def settle(self) -> None:
        """Counts this thread's call out of its caller's calls in flight once its answer is made:
        only sending remains, and the caller's next call may arrive before that is done."""
        task = getattr(_working, "task", None)
        if task is not None and task.pool is self:
            with self._changed:
                self._settle(task)

    def _settle(self, task: _Task) -> None:
        """The task no longer counts as in flight (lock held); at most once."""
        if not task.settled:
            task.settled = True
            _count_out(self._in_flight, task.caller)

    def submit(self, caller: Hashable, fn: Callable[..., Any], *args: Any) -> futures.Future[Any]:
        """Queues ``fn(*args)`` as one of ``caller``'s calls."""
        task = _Task(pool=self, caller=caller, future=futures.Future(), run=lambda: fn(*args))
        with self._changed:
            self._in_flight[caller] += 1
            self._queues.setdefault(caller, deque()).append(task)
            self._make_ready(caller)
        return task.future

    def _make_ready(self, caller: Hashable) -> None:
        """Puts ``caller`` in the rotation if it has a call waiting and room (lock held)."""
        waiting = self._queues.get(caller)
        room = self._running[caller] < self.running_per_caller
        if waiting and room and caller not in self._ready:
            self._ready.append(caller)
            self._changed.notify()

    def _work(self) -> None:
        """One thread: the next caller's next call, forever."""
        while True:
            with self._changed:
                while not self._ready:
                    self._changed.wait()
                caller = self._ready.popleft()
                waiting = self._queues[caller]
                task = waiting.popleft()
                if not waiting:
                    del self._queues[caller]
                self._running[caller] += 1
                self._make_ready(caller)  # to the back of the rotation
            _working.task = task
            try:
                task.execute()
            finally:
                _working.task = None
            with self._changed:
                self._settle(task)
                _count_out(self._running, caller)
                self._make_ready(caller)
            del task  # an idle thread must not keep its last call (and gRPC's call) alive


def _count_out(count: Counter[Hashable], caller: Hashable) -> None:
    """One fewer for ``caller``, dropping callers at zero so the counters stay small."""
    count[caller] -= 1
    if not count[caller]:
        del count[caller]


@dataclass(eq=False)
class _Task:
    """One queued call."""

    pool: FairPool
    caller: Hashable
    future: futures.Future[Any]
    run: Callable[[], Any]
    settled: bool = False  # no longer counted in flight: its answer is made

    def execute(self) -> None:
        """Runs the call, settling its future (unless it was cancelled while it waited)."""
        if not self.future.set_running_or_notify_cancel():
            return
        try:
            self.future.set_result(self.run())
        except BaseException as exc:  # the future carries it to whoever waits
            self.future.set_exception(exc)


class _Lane(futures.ThreadPoolExecutor):
    """One caller's door into a FairPool; gRPC asks for a ThreadPoolExecutor, so it is one."""

    def __init__(  # no threads of its own
        self, pool: FairPool, caller: Hashable, turnstile: Turnstile | None
    ) -> None:
        self._pool = pool
        self._caller = caller
        self._turnstile = turnstile

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> futures.Future[Any]:
        """Queues the call on the pool as this lane's caller."""

        def run() -> Any:
            if self._turnstile is None:
                return fn(*args, **kwargs)
            with self._turnstile.turn(self._caller):
                return fn(*args, **kwargs)

        return self._pool.submit(self._caller, run)


@dataclass(eq=False)
class _Turn:
    """One call wanting or holding the turn."""

    owner: Turnstile
    caller: Hashable
    order: int
    woken: threading.Condition  # on the turnstile's lock: notified when this one goes next
    since: float = field(default=0.0)  # when the turn was taken or last charged for


class Turnstile:
    """One turn at the CPU, handed to the waiting caller that has used it least lately."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._holder: _Turn | None = None
        self._waiting: list[_Turn] = []
        self._used: dict[Hashable, tuple[float, float]] = {}  # caller -> (seconds, as of when)
        self._order = itertools.count()

    @contextmanager
    def turn(self, caller: Hashable) -> Iterator[None]:
        """Computes with the turn held, offered up at each checkpoint of this thread."""
        me = _Turn(
            owner=self,
            caller=caller,
            order=next(self._order),
            woken=threading.Condition(self._lock),
        )
        with self._lock:
            self._acquire(me)
        outer = getattr(_current, "turn", None)
        _current.turn = me
        try:
            yield
        finally:
            _current.turn = outer
            with self._lock:
                self._release(me)

    def offer(self, me: _Turn) -> None:
        """Hands the turn over if another caller that has used less is waiting, then waits."""
        now = self._clock()
        if now - me.since < QUANTUM_S:
            return
        with self._lock:
            self._charge(me, now)
            mine = self._use(me.caller, now)
            others = (self._use(w.caller, now) for w in self._waiting if w.caller != me.caller)
            if any(used < mine for used in others):
                self._release(me)
                self._acquire(me)

    def _acquire(self, me: _Turn) -> None:
        """Waits (lock held) until the turn is free and ``me`` ranks first among the waiting;
        each waits on its own condition, so a release wakes the one that goes next, not all."""
        self._waiting.append(me)
        while self._holder is not None or self._first() is not me:
            me.woken.wait()
        self._waiting.remove(me)
        self._holder = me
        me.since = self._clock()

    def _charge(self, me: _Turn, now: float) -> None:
        """Adds the time held since the last charge to the caller's use (lock held)."""
        self._used[me.caller] = (self._use(me.caller, now) + (now - me.since), now)
        me.since = now

    def _release(self, me: _Turn) -> None:
        """Charges the caller for its turn and lets the next one in (lock held)."""
        now = self._clock()
        self._charge(me, now)
        self._holder = None
        self._forget_idle(now)
        if self._waiting:
            self._first().woken.notify()  # rankings keep their order as use decays

    def _first(self) -> _Turn:
        """The waiting call to go next: its caller's use, then its arrival."""
        now = self._clock()
        return min(self._waiting, key=lambda w: (self._use(w.caller, now), w.order))

    def _use(self, caller: Hashable, now: float) -> float:
        """A caller's recent use of the turn in seconds, halved every HALF_LIFE_S."""
        used, when = self._used.get(caller, (0.0, now))
        return float(used * 0.5 ** ((now - when) / HALF_LIFE_S))

    def _forget_idle(self, now: float) -> None:
        """Drops callers whose use has all but decayed, so the table stays small."""
        if len(self._used) > 64:
            for caller in [c for c in self._used if self._use(c, now) < FORGOTTEN_S]:
                del self._used[caller]


class Later:
    """Runs callables at set times on one thread of its own: answers that must wait hold none."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        threading.Thread(target=self._run, name="matcher-later", daemon=True).start()

    def call(self, delay: float, fn: Callable[[], None]) -> None:
        """Calls ``fn`` once ``delay`` seconds have passed."""
        with self._changed:
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._order), fn))
            self._changed.notify()

    def _run(self) -> None:
        """The thread: each callable at its time, in order; one that fails stops no other."""
        while True:
            with self._changed:
                while not self._due or self._due[0][0] > time.monotonic():
                    wait = self._due[0][0] - time.monotonic() if self._due else None
                    self._changed.wait(wait)
                _, _, fn = heapq.heappop(self._due)
            try:
                fn()
            except Exception:  # the call it answers has gone; nothing else depends on it
                log.debug("a delayed answer failed", exc_info=True)
            del fn  # nor keep the call it answered alive while waiting for the next


def checkpoint() -> None:
    """Offers this thread's turn, if it holds one, to a caller that has used less."""
    me: _Turn | None = getattr(_current, "turn", None)
    if me is not None:
        me.owner.offer(me)


def pacing(still_wanted: Callable[[], bool]) -> Callable[[], bool]:
    """``still_wanted`` that also passes a checkpoint: what the engine asks between steps."""

    def wanted() -> bool:
        checkpoint()
        return still_wanted()

    return wanted
