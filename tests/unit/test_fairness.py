"""Sharing the process: threads taken caller by caller, and the CPU turn handed to the quieter."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from matcher_api.fairness import QUANTUM_S, FairPool, Turnstile, checkpoint, pacing

PATIENCE_S = 30  # a stuck thread fails the test instead of hanging it; never a speed check


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def started(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_a_long_call_hands_the_turn_to_a_quieter_caller_at_its_next_checkpoint() -> None:
    clock, order = Clock(), []
    turnstile = Turnstile(clock=clock)
    holding, waiting, done = threading.Event(), threading.Event(), threading.Event()

    def long_call() -> None:
        with turnstile.turn("busy"):
            holding.set()
            waiting.wait(PATIENCE_S)
            clock.now += 10 * QUANTUM_S  # it has computed for a while
            checkpoint()  # the quiet caller goes first, then this call resumes
            order.append("busy resumed")

    def short_call() -> None:
        with turnstile.turn("quiet"):
            order.append("quiet ran")
        done.set()

    long = started(long_call)
    assert holding.wait(PATIENCE_S)
    short = started(short_call)
    while not turnstile._waiting:  # the quiet call is queued for the turn
        threading.Event().wait(0.001)
    waiting.set()
    for thread in (long, short):
        thread.join(PATIENCE_S)
    assert order == ["quiet ran", "busy resumed"]


def test_a_checkpoint_keeps_the_turn_when_only_the_same_caller_waits() -> None:
    clock = Clock()
    turnstile = Turnstile(clock=clock)
    with turnstile.turn("one"):
        clock.now += 10 * QUANTUM_S
        checkpoint()  # nobody else: no hand-over, no wait
    assert turnstile._holder is None


def test_the_next_turn_goes_to_the_caller_that_used_least_not_to_the_first_in_line() -> None:
    clock = Clock()
    turnstile = Turnstile(clock=clock)
    with turnstile.turn("heavy"):
        clock.now += 1.0  # "heavy" has used the turn for a second
    order: list[str] = []
    gate = threading.Event()

    def call(caller: str) -> Callable[[], None]:
        def run() -> None:
            with turnstile.turn(caller):
                order.append(caller)

        return run

    with turnstile.turn("holder"):
        threads = [started(call("heavy"))]
        while len(turnstile._waiting) < 1:
            gate.wait(0.001)
        threads.append(started(call("light")))
        while len(turnstile._waiting) < 2:
            gate.wait(0.001)
    for thread in threads:
        thread.join(PATIENCE_S)
    assert order == ["light", "heavy"]


def test_checkpoints_outside_any_turn_do_nothing_and_pacing_passes_the_answer_on() -> None:
    checkpoint()
    assert pacing(lambda: True)() is True
    assert pacing(lambda: False)() is False


def test_the_pool_takes_callers_in_rotation_whatever_order_they_queued_in() -> None:
    pool = FairPool(threads=1, running_per_caller=1, in_flight_per_caller=100)
    release, order = threading.Event(), []
    blocker = pool.submit("x", lambda: release.wait(PATIENCE_S))
    done = [pool.submit("flood", lambda k=k: order.append(f"flood{k}")) for k in range(3)]
    done.append(pool.submit("other", lambda: order.append("other")))
    release.set()
    for future in [blocker, *done]:
        future.result(PATIENCE_S)
    assert order.index("other") <= 1  # after at most one of the flood's calls


def test_a_caller_at_its_cap_is_not_admitted_and_others_still_are() -> None:
    pool = FairPool(threads=1, running_per_caller=1, in_flight_per_caller=2, in_flight=3)
    release = threading.Event()
    held = [pool.submit("flood", lambda: release.wait(PATIENCE_S)) for _ in range(2)]
    assert not pool.admits("flood")
    assert pool.admits("other")
    held.append(pool.submit("other", lambda: release.wait(PATIENCE_S)))
    assert not pool.admits("third")  # all callers together are at the server's cap
    release.set()
    for future in held:
        future.result(PATIENCE_S)
    assert pool.admits("flood")


def test_a_call_whose_answer_is_made_leaves_room_for_the_next_while_it_still_sends() -> None:
    """gRPC sends after the handler returns; a caller at its cap may call again the moment the
    answer arrives, so the call counts out of its caller's calls once the answer is made."""
    pool = FairPool(threads=1, running_per_caller=1, in_flight_per_caller=1, in_flight=1)
    answered, sent = threading.Event(), threading.Event()

    def call() -> None:
        pool.settle()  # what the gate does when the handler returns, before gRPC sends
        answered.set()
        sent.wait(PATIENCE_S)

    future = pool.submit("caller", call)
    assert answered.wait(PATIENCE_S)
    assert pool.admits("caller")  # its next call is admitted while the first one still sends
    pool.settle()  # outside any call of the pool's: nothing to count out
    sent.set()
    future.result(PATIENCE_S)
    busy = threading.Event()
    following = pool.submit("caller", lambda: busy.wait(PATIENCE_S))
    assert not pool.admits("caller")  # counted out once only: the cap still holds
    busy.set()
    following.result(PATIENCE_S)


def test_a_call_that_fails_carries_its_error_and_frees_its_place() -> None:
    pool = FairPool(threads=1, running_per_caller=1, in_flight_per_caller=1)

    def fail() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        pool.submit("x", fail).result(PATIENCE_S)
    assert pool.submit("x", lambda: 7).result(PATIENCE_S) == 7


def test_a_lane_is_the_executor_grpc_asks_for() -> None:
    pool = FairPool(threads=1, running_per_caller=1, in_flight_per_caller=1)
    lane = pool.lane("x")
    assert lane.submit(lambda a, b=0: a + b, 2, b=3).result(PATIENCE_S) == 5


def test_a_caller_is_charged_for_all_the_time_it_holds_the_turn_checkpoints_or_not() -> None:
    clock = Clock()
    turnstile = Turnstile(clock=clock)
    with turnstile.turn("busy"):
        for _ in range(10):
            clock.now += 10 * QUANTUM_S
            checkpoint()  # nobody waits: it keeps the turn, but every moment still counts
    assert turnstile._use("busy", clock.now) == pytest.approx(
        100 * QUANTUM_S, rel=0.05
    )  # less a little decay


def test_a_lane_with_a_turnstile_runs_each_call_whole_with_its_callers_turn_held() -> None:
    pool = FairPool(threads=2, running_per_caller=2, in_flight_per_caller=4)
    turnstile = Turnstile()

    def holder() -> object:
        return turnstile._holder.caller if turnstile._holder else None

    assert pool.lane("x", turnstile=turnstile).submit(holder).result(PATIENCE_S) == "x"
    assert pool.lane("x").submit(holder).result(PATIENCE_S) is None
