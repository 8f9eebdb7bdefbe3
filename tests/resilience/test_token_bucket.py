"""Token bucket and keyed buckets on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from aureond.clock import FakeClock
from aureond.errors import ConfigError, RateLimitedError
from aureond.resilience import KeyedBuckets, RateLimited, TokenBucket


@pytest.mark.parametrize(("script", "expected"), [
    # capacity 3, 1 token/s; "aN" = try_acquire(N), "tN" = advance N seconds
    ("a1 a1 a1 a1", [True, True, True, False]),
    ("a3 a1 t1 a1 a1", [True, False, None, True, False]),
    ("a3 t10 a3", [True, None, True]),            # refill caps at capacity
    ("a2 t0.5 a1 t0.5 a1", [True, None, True, None, True]),
    ("a0.5 a2.5 a0.1", [True, True, False]),      # fractional tokens
])
def test_try_acquire_table(script: str, expected: list[bool | None]) -> None:
    clock = FakeClock()
    bucket = TokenBucket(3, 1.0, clock)
    seen: list[bool | None] = []
    for step in script.split():
        if step[0] == "a":
            seen.append(bucket.try_acquire(float(step[1:])))
        else:
            clock.advance(float(step[1:]))
            seen.append(None)
    assert seen == expected


def test_time_until_available() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, 2.0, clock, initial=0)
    assert bucket.time_until_available(4) == pytest.approx(2.0)
    clock.advance(1.0)
    assert bucket.time_until_available(4) == pytest.approx(1.0)
    assert bucket.time_until_available(2) == 0.0
    assert bucket.tokens == pytest.approx(2.0)  # asking takes nothing


@pytest.mark.parametrize("n", [0, -1, 3.0001, 100])
def test_requests_outside_capacity_are_value_errors(n: float) -> None:
    bucket = TokenBucket(3, 1.0, FakeClock())
    with pytest.raises(ValueError, match="capacity"):
        bucket.try_acquire(n)
    with pytest.raises(ValueError, match="capacity"):
        bucket.time_until_available(n)


async def test_acquire_over_capacity_is_a_value_error() -> None:
    bucket = TokenBucket(3, 1.0, FakeClock())
    with pytest.raises(ValueError, match="capacity"):
        await bucket.acquire(4)


async def test_acquire_waits_on_the_clock() -> None:
    clock = FakeClock(autojump=True)
    bucket = TokenBucket(5, 2.0, clock, initial=0)
    start = clock.monotonic()
    await bucket.acquire(3, timeout=2.0)
    assert clock.monotonic() - start == pytest.approx(1.5)
    assert bucket.tokens == pytest.approx(0.0)


async def test_acquire_refuses_at_once_when_the_timeout_is_too_short() -> None:
    clock = FakeClock(autojump=True)
    bucket = TokenBucket(5, 2.0, clock, initial=0, name="http")
    refusals: list[RateLimited] = []
    bucket.on_rate_limited(refusals.append)
    with pytest.raises(RateLimitedError) as info:
        await bucket.acquire(4, timeout=1.0)
    assert info.value.retry_after == pytest.approx(2.0)
    assert info.value.name == "http"
    assert clock.slept == []                      # no pointless waiting
    assert [r.requested for r in refusals] == [4]


async def test_concurrent_waiters_all_get_their_tokens() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2, 1.0, clock, initial=0)
    tasks = [asyncio.create_task(bucket.acquire(1)) for _ in range(4)]
    for _ in range(40):
        await asyncio.sleep(0)
        clock.advance(0.25)
    await asyncio.gather(*tasks)
    assert all(t.done() for t in tasks)
    assert 0.0 <= bucket.tokens <= 2.0


async def test_cancelled_waiter_takes_nothing() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2, 1.0, clock, initial=0)
    task = asyncio.create_task(bucket.acquire(2))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    clock.advance(2.0)
    assert bucket.try_acquire(2)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"capacity": 0, "refill_rate": 1.0}, "capacity"),
    ({"capacity": 1, "refill_rate": 0.0}, "refill_rate"),
    ({"capacity": 1, "refill_rate": 1.0, "initial": 2}, "initial"),
    ({"capacity": 1, "refill_rate": 1.0, "initial": -1}, "initial"),
])
def test_bucket_validation(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        TokenBucket(clock=FakeClock(), **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_keyed_buckets_are_independent() -> None:
    clock = FakeClock()
    buckets: KeyedBuckets[str] = KeyedBuckets(2, 1.0, clock)
    assert buckets.try_acquire("a", 2)
    assert not buckets.try_acquire("a")
    assert buckets.try_acquire("b", 2)
    assert buckets.time_until_available("a") == pytest.approx(1.0)


def test_keyed_buckets_bounded_by_least_recently_used() -> None:
    clock = FakeClock()
    buckets: KeyedBuckets[str] = KeyedBuckets(2, 1.0, clock, max_keys=2)
    buckets.try_acquire("a", 2)
    buckets.try_acquire("b", 2)
    buckets.try_acquire("a", 0.5)                 # "a" is now the most recent
    buckets.try_acquire("c")                      # evicts "b"
    assert len(buckets) == 2
    assert "b" not in buckets
    assert "a" in buckets
    assert "c" in buckets


def test_keyed_buckets_evict_idle_only_when_full_again() -> None:
    clock = FakeClock()
    buckets: KeyedBuckets[str] = KeyedBuckets(4, 2.0, clock)  # refills in 2 s
    buckets.try_acquire("a", 4)
    clock.advance(1.0)
    buckets.try_acquire("b")
    assert buckets.evict_idle() == 0
    clock.advance(1.0)
    assert buckets.evict_idle() == 1              # "a" idle 2 s: full, nothing lost
    assert "a" not in buckets
    assert "b" in buckets
    clock.advance(5.0)
    buckets.try_acquire("c")                      # lazy eviction on access
    assert "b" not in buckets
    assert len(buckets) == 1


def test_keyed_buckets_report_refusals_under_one_name() -> None:
    clock = FakeClock()
    buckets: KeyedBuckets[str] = KeyedBuckets(1, 1.0, clock, name="http-clients")
    refusals: list[RateLimited] = []
    buckets.on_rate_limited(refusals.append)
    for key in ("x", "x", "y", "y"):
        buckets.try_acquire(key)
    assert [r.limiter for r in refusals] == ["http-clients", "http-clients"]


async def test_keyed_acquire_times_out() -> None:
    clock = FakeClock(autojump=True)
    buckets: KeyedBuckets[str] = KeyedBuckets(1, 0.1, clock)
    await buckets.acquire("peer-1")
    with pytest.raises(RateLimitedError):
        await buckets.acquire("peer-1", timeout=1.0)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"max_keys": 0}, "max_keys"), ({"idle_timeout": 0.0}, "idle_timeout")])
def test_keyed_validation(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        KeyedBuckets(1, 1.0, FakeClock(), **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
