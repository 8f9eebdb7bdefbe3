"""Retry: exact schedules with a seeded random source on an autojumping fake clock."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import pytest

from aureond.clock import FakeClock, SeededRandom
from aureond.errors import (
    CircuitOpenError,
    ConfigError,
    RateLimitedError,
    RemoteProtocolError,
    RetryExhaustedError,
)
from aureond.resilience import ErrorClass, RecoveryContext, Retrier, RetryEvent, RetryPolicy

SEED = 7


def failing(*errors: BaseException, result: str = "done") -> tuple[Callable[[], Awaitable[str]],
                                                                     list[int]]:
    """A call that raises ``errors`` in turn, then returns ``result``."""
    calls: list[int] = []

    async def fn() -> str:
        calls.append(len(calls) + 1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return result

    return fn, calls


def expected_delays(policy: RetryPolicy, count: int) -> list[float]:
    """The full-jitter schedule, computed independently of the implementation."""
    rng = random.Random(SEED)
    return [rng.random() * min(policy.max_delay,
                               policy.initial_delay * policy.multiplier ** k)
            for k in range(count)]


def retrier(policy: RetryPolicy, clock: FakeClock) -> Retrier:
    return Retrier(policy, clock, SeededRandom(SEED))


async def test_schedule_is_exact_capped_full_jitter() -> None:
    clock = FakeClock(autojump=True)
    policy = RetryPolicy(max_attempts=7, initial_delay=0.5, max_delay=4.0, multiplier=2.0,
                         deadline=None)
    fn, calls = failing(*[ConnectionResetError()] * 6)
    assert await retrier(policy, clock).call("connect", fn) == "done"
    assert calls == [1, 2, 3, 4, 5, 6, 7]
    assert clock.slept == pytest.approx(expected_delays(policy, 6))
    assert [policy.bound(k) for k in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


async def test_no_jitter_waits_the_bound() -> None:
    clock = FakeClock(autojump=True)
    policy = RetryPolicy(max_attempts=5, initial_delay=1.0, max_delay=5.0, multiplier=3.0,
                         deadline=None, jitter=False)
    fn, _ = failing(*[TimeoutError()] * 4)
    await retrier(policy, clock).call("ping", fn)
    assert clock.slept == [1.0, 3.0, 5.0, 5.0]


async def test_exhaustion_raises_from_the_last_error_with_context() -> None:
    clock = FakeClock(autojump=True)
    policy = RetryPolicy(max_attempts=3, deadline=None)
    last = ConnectionRefusedError("refused #3")
    fn, calls = failing(TimeoutError("t1"), ConnectionResetError("r2"), last)
    with pytest.raises(RetryExhaustedError) as info:
        await retrier(policy, clock).call("getheaders", fn)
    error = info.value
    assert error.__cause__ is last
    assert error.attempts == 3
    assert error.operation == "getheaders"
    context = error.context
    assert isinstance(context, RecoveryContext)
    assert context.attempts == 3
    assert context.next_backoff is None
    assert [(e.error_class, e.error_type, e.message) for e in context.errors] == [
        (ErrorClass.TIMEOUT, "TimeoutError", "t1"),
        (ErrorClass.TEMPORARY, "ConnectionResetError", "r2"),
        (ErrorClass.TEMPORARY, "ConnectionRefusedError", "refused #3"),
    ]
    assert context.elapsed == pytest.approx(sum(clock.slept))
    assert len(calls) == 3


@pytest.mark.parametrize("error", [RemoteProtocolError("bad checksum"), ValueError("bug"),
                                   CircuitOpenError("peer-2", 3.0)],
                         ids=["permanent", "unknown", "circuit-open"])
async def test_non_retryable_errors_are_raised_unchanged_at_once(error: Exception) -> None:
    clock = FakeClock(autojump=True)
    fn, calls = failing(error)
    with pytest.raises(type(error)) as info:
        await retrier(RetryPolicy(), clock).call("op", fn)
    assert info.value is error
    assert calls == [1]
    assert clock.slept == []


async def test_rate_limited_waits_at_least_retry_after() -> None:
    clock = FakeClock(autojump=True)
    policy = RetryPolicy(max_attempts=3, initial_delay=0.1, max_delay=1.0, deadline=None)
    fn, _ = failing(RateLimitedError("peer", 2.5), RateLimitedError("peer", 0.0))
    await retrier(policy, clock).call("op", fn)
    jitter = expected_delays(policy, 2)
    assert clock.slept == pytest.approx([2.5, jitter[1]])


async def test_deadline_gives_up_instead_of_sleeping_past_it() -> None:
    clock = FakeClock(autojump=True)
    policy = RetryPolicy(max_attempts=100, initial_delay=1.0, max_delay=8.0, deadline=10.0,
                         jitter=False)
    fn, calls = failing(*[ConnectionResetError()] * 100)
    with pytest.raises(RetryExhaustedError) as info:
        await retrier(policy, clock).call("op", fn)
    assert clock.slept == [1.0, 2.0, 4.0]           # the next 8.0 would end at 15 > 10
    assert sum(clock.slept) <= 10.0
    assert info.value.attempts == len(calls) == 4


async def test_deadline_counts_time_spent_in_attempts() -> None:
    clock = FakeClock(autojump=True)
    policy = RetryPolicy(max_attempts=10, initial_delay=1.0, deadline=5.0, jitter=False)

    async def slow() -> None:
        await clock.sleep(3.0)
        raise TimeoutError("no answer")

    with pytest.raises(RetryExhaustedError) as info:
        await retrier(policy, clock).call("op", slow)
    assert info.value.attempts == 2                  # 3 + 1 + 3 = 7 > 5 before a third


async def test_every_call_starts_afresh() -> None:
    clock = FakeClock(autojump=True)
    r = retrier(RetryPolicy(max_attempts=2, deadline=None), clock)
    for _ in range(3):
        fn, calls = failing(ConnectionResetError())
        assert await r.call("op", fn) == "done"
        assert calls == [1, 2]


async def test_retry_hooks_see_each_retry() -> None:
    clock = FakeClock(autojump=True)
    r = retrier(RetryPolicy(max_attempts=3, deadline=None), clock)
    events: list[RetryEvent] = []
    r.on_retry(events.append)
    fn, _ = failing(TimeoutError(), RateLimitedError("x", 0.2))
    await r.call("sync", fn)
    assert [(e.operation, e.attempt, e.error_class, e.error_type) for e in events] == [
        ("sync", 1, ErrorClass.TIMEOUT, "TimeoutError"),
        ("sync", 2, ErrorClass.RATE_LIMITED, "RateLimitedError")]
    assert [e.delay for e in events] == clock.slept
    assert events[1].context.next_backoff == events[1].delay
    assert events[1].context.attempts == 2


async def test_test_mode_turns_backoff_off() -> None:
    clock = FakeClock(autojump=True)
    fn, calls = failing(ConnectionResetError(), RateLimitedError("x", 60.0))
    await retrier(RetryPolicy.no_backoff(max_attempts=3), clock).call("op", fn)
    assert calls == [1, 2, 3]
    assert clock.slept == [0.0, 0.0]


async def test_cancellation_during_backoff_propagates() -> None:
    clock = FakeClock()                               # no autojump: the wait blocks
    fn, calls = failing(*[ConnectionResetError()] * 5)
    task = asyncio.create_task(retrier(RetryPolicy(), clock).call("op", fn))
    for _ in range(3):
        await asyncio.sleep(0)
    assert calls == [1]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_cancellation_inside_an_attempt_is_not_retried() -> None:
    clock = FakeClock(autojump=True)
    calls = 0

    async def cancelled() -> None:
        nonlocal calls
        calls += 1
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await retrier(RetryPolicy(), clock).call("op", cancelled)
    assert calls == 1


async def test_custom_classifier() -> None:
    clock = FakeClock(autojump=True)

    class BusyError(Exception):
        pass

    def classifier(exc: BaseException) -> ErrorClass:
        return ErrorClass.TEMPORARY if isinstance(exc, BusyError) else ErrorClass.PERMANENT

    r = Retrier(RetryPolicy(deadline=None), clock, SeededRandom(1), classifier=classifier)
    fn, calls = failing(BusyError(), BusyError())
    await r.call("op", fn)
    assert calls == [1, 2, 3]


def test_bound_survives_huge_attempt_counts() -> None:
    assert RetryPolicy(max_delay=9.0).bound(100_000) == 9.0


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"max_attempts": 0}, "max_attempts"), ({"initial_delay": -1.0}, "initial_delay"),
    ({"initial_delay": 5.0, "max_delay": 1.0}, "max_delay"),
    ({"multiplier": 0.5}, "multiplier"), ({"deadline": 0.0}, "deadline")])
def test_policy_validation(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
