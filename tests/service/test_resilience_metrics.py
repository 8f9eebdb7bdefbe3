"""Resilience metrics: drive the pieces, read the samples back from a fresh registry."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from aureond.caching import BatchProcessor, LRUCache, TTLCache
from aureond.clock import FakeClock, SeededRandom
from aureond.errors import RateLimitedError
from aureond.resilience import (
    BreakerConfig,
    CircuitBreaker,
    KeyedBuckets,
    Retrier,
    RetryPolicy,
    TokenBucket,
)
from aureond.service.resilience_metrics import ResilienceMetrics


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_breaker_state_and_transitions(registry: CollectorRegistry) -> None:
    metrics = ResilienceMetrics(registry)
    clock = FakeClock()
    breaker = CircuitBreaker("peer-0", clock, BreakerConfig(failure_threshold=2,
                                                            success_threshold=1))
    metrics.watch_breaker(breaker)
    state = "aureond_circuit_breaker_state"
    assert value(registry, state, breaker="peer-0", state="closed") == 1.0
    assert value(registry, state, breaker="peer-0", state="open") == 0.0
    for _ in range(2):
        breaker.allow()
        breaker.record_failure()
    assert value(registry, state, breaker="peer-0", state="closed") == 0.0
    assert value(registry, state, breaker="peer-0", state="open") == 1.0
    clock.advance(30.0)
    breaker.allow()
    breaker.record_success()
    transitions = "aureond_circuit_breaker_transitions_total"
    for from_state, to_state in (("closed", "open"), ("open", "half_open"),
                                 ("half_open", "closed")):
        assert value(registry, transitions, breaker="peer-0", from_state=from_state,
                     to_state=to_state) == 1.0
    assert value(registry, state, breaker="peer-0", state="closed") == 1.0
    assert value(registry, state, breaker="peer-0", state="half_open") == 0.0


async def test_rate_limited(registry: CollectorRegistry) -> None:
    metrics = ResilienceMetrics(registry)
    clock = FakeClock(autojump=True)
    bucket = TokenBucket(1, 1.0, clock, name="getheaders")
    clients: KeyedBuckets[str] = KeyedBuckets(1, 1.0, clock, name="http")
    metrics.watch_bucket(bucket)
    metrics.watch_bucket(clients)
    assert value(registry, "aureond_rate_limited_total", limiter="getheaders") == 0.0
    bucket.try_acquire()
    bucket.try_acquire()
    with pytest.raises(RateLimitedError):
        await bucket.acquire(1, timeout=0.1)
    for client in ("a", "a", "b", "b", "c"):
        clients.try_acquire(client)
    assert value(registry, "aureond_rate_limited_total", limiter="getheaders") == 2.0
    assert value(registry, "aureond_rate_limited_total", limiter="http") == 2.0


async def test_retries_by_operation_and_error_class(registry: CollectorRegistry) -> None:
    metrics = ResilienceMetrics(registry)
    retrier = Retrier(RetryPolicy.no_backoff(max_attempts=5), FakeClock(), SeededRandom(1))
    metrics.watch_retrier(retrier)
    errors: list[Exception] = [TimeoutError(), ConnectionResetError(), ConnectionRefusedError()]

    async def flaky() -> str:
        if errors:
            raise errors.pop(0)
        return "ok"

    assert await retrier.call("connect", flaky) == "ok"
    retries = "aureond_retries_total"
    assert value(registry, retries, operation="connect", error_type="timeout") == 1.0
    assert value(registry, retries, operation="connect", error_type="temporary") == 2.0


def test_cache_requests(registry: CollectorRegistry) -> None:
    metrics = ResilienceMetrics(registry)
    lru: LRUCache[str, int] = LRUCache(4, name="headers")
    ttl: TTLCache[str, int] = TTLCache(4, 1.0, FakeClock(), name="tips")
    metrics.watch_cache(lru)
    metrics.watch_cache(ttl)
    lru.put("a", 1)
    lru.get("a")
    lru.get("a")
    lru.get("b")
    ttl.get("x")
    requests = "aureond_cache_requests_total"
    assert value(registry, requests, cache="headers", result="hit") == 2.0
    assert value(registry, requests, cache="headers", result="miss") == 1.0
    assert value(registry, requests, cache="tips", result="hit") == 0.0
    assert value(registry, requests, cache="tips", result="miss") == 1.0


async def test_batch_flushes(registry: CollectorRegistry) -> None:
    metrics = ResilienceMetrics(registry)
    clock = FakeClock()

    async def sink(items: Sequence[int]) -> None:
        return None

    processor: BatchProcessor[int] = BatchProcessor(sink, clock, max_batch_size=2,
                                                    max_delay=1.0, max_pending=4)
    metrics.watch_batch(processor)
    assert value(registry, "aureond_batch_flushes_total", reason="timeout") == 0.0
    await processor.submit(1)
    await processor.submit_and_wait(2)          # size
    first = await processor.submit(3)
    await asyncio.sleep(0)
    clock.advance(1.0)
    await first                                 # timeout
    await processor.submit(4)
    await processor.close()                     # close
    flushes = "aureond_batch_flushes_total"
    assert value(registry, flushes, reason="size") == 1.0
    assert value(registry, flushes, reason="timeout") == 1.0
    assert value(registry, flushes, reason="close") == 1.0
    assert value(registry, flushes, reason="manual") == 0.0


def test_label_values_stay_bounded(registry: CollectorRegistry) -> None:
    metrics = ResilienceMetrics(registry, max_names=2)
    clock = FakeClock()
    for i in range(5):
        bucket = TokenBucket(1, 1.0, clock, name=f"limiter-{i}")
        metrics.watch_bucket(bucket)
        bucket.try_acquire()
        bucket.try_acquire()
    assert value(registry, "aureond_rate_limited_total", limiter="limiter-1") == 1.0
    assert value(registry, "aureond_rate_limited_total", limiter="limiter-2") is None
    assert value(registry, "aureond_rate_limited_total", limiter="other") == 3.0


def test_unsubscribe_stops_counting(registry: CollectorRegistry) -> None:
    metrics = ResilienceMetrics(registry)
    bucket = TokenBucket(1, 1.0, FakeClock(), name="x")
    stop = metrics.watch_bucket(bucket)
    bucket.try_acquire()
    bucket.try_acquire()
    stop()
    bucket.try_acquire()
    assert value(registry, "aureond_rate_limited_total", limiter="x") == 1.0


def test_exposition_uses_only_the_given_registry(registry: CollectorRegistry) -> None:
    ResilienceMetrics(registry)
    ResilienceMetrics(CollectorRegistry())      # a second instance does not clash
    text = generate_latest(registry).decode()
    for name in ("aureond_circuit_breaker_state", "aureond_circuit_breaker_transitions_total",
                 "aureond_rate_limited_total", "aureond_retries_total",
                 "aureond_cache_requests_total", "aureond_batch_flushes_total"):
        assert f"# TYPE {name.removesuffix('_total')}" in text
