"""Per-call overhead of the resilience and caching primitives.

Run by hand: ``.venv/bin/python -m bench.bench_resilience``. Uses the real clock (its
``monotonic()`` call is part of the cost). Targets: < 5 us per breaker or bucket call,
< 2 us per cache get or put.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aureond.caching import LRUCache, TTLCache
from aureond.clock import SystemClock
from aureond.resilience import BreakerConfig, CircuitBreaker, TokenBucket
from bench.common import markdown_table

N = 200_000
ROUNDS = 5


def best_of(fn: Callable[[], None], n: int = N) -> float:
    """The best of ROUNDS runs of ``fn`` (which performs ``n`` operations), in us/op."""
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


def bench_breaker_sync() -> float:
    breaker = CircuitBreaker("bench", SystemClock(), BreakerConfig())

    def run() -> None:
        allow, ok = breaker.allow, breaker.record_success
        for _ in range(N):
            if allow():
                ok()

    return best_of(run)


def bench_breaker_failure_path() -> float:
    # Half the calls fail: exercises the sliding window and consecutive counter.
    breaker = CircuitBreaker("bench", SystemClock(),
                             BreakerConfig(failure_threshold=10**9, minimum_calls=10**9))

    def run() -> None:
        allow, ok, bad = breaker.allow, breaker.record_success, breaker.record_failure
        for i in range(N):
            if allow():
                (bad if i & 1 else ok)()

    return best_of(run)


def bench_breaker_async() -> tuple[float, float]:
    breaker = CircuitBreaker("bench", SystemClock(), BreakerConfig())

    async def work() -> int:
        return 1

    async def direct() -> None:
        for _ in range(N):
            await work()

    async def guarded() -> None:
        call = breaker.call
        for _ in range(N):
            await call(work)

    async def with_block() -> None:
        for _ in range(N):
            async with breaker:
                await work()

    base = best_of(lambda: asyncio.run(direct()))
    via_call = best_of(lambda: asyncio.run(guarded())) - base
    via_with = best_of(lambda: asyncio.run(with_block())) - base
    return via_call, via_with


def bench_bucket() -> float:
    bucket = TokenBucket(1e12, 1e12, SystemClock())  # never empty: measures the fast path

    def run() -> None:
        take = bucket.try_acquire
        for _ in range(N):
            take(1)

    return best_of(run)


def bench_bucket_refusal() -> float:
    bucket = TokenBucket(1, 1e-9, SystemClock(), initial=0)

    def run() -> None:
        take = bucket.try_acquire
        for _ in range(N):
            take(1)

    return best_of(run)


def bench_lru() -> tuple[float, float]:
    cache: LRUCache[int, int] = LRUCache(10_000)
    keys = list(range(20_000))

    def put() -> None:
        p = cache.put
        for k in keys * (N // len(keys)):
            p(k, k)

    def get() -> None:
        g = cache.get
        for k in keys * (N // len(keys)):
            g(k)  # half hits, half misses

    return best_of(put), best_of(get)


def bench_ttl() -> tuple[float, float]:
    cache: TTLCache[int, int] = TTLCache(10_000, 3600.0, SystemClock())
    keys = list(range(20_000))

    def put() -> None:
        p = cache.put
        for k in keys * (N // len(keys)):
            p(k, k)

    def get() -> None:
        g = cache.get
        for k in keys * (N // len(keys)):
            g(k)

    return best_of(put), best_of(get)


def main() -> None:
    rows: list[tuple[str, float, float]] = [
        ("breaker allow+record_success (sync)", bench_breaker_sync(), 5.0),
        ("breaker allow+record, 50% failures", bench_breaker_failure_path(), 5.0),
    ]
    via_call, via_with = bench_breaker_async()
    rows += [("breaker await call(fn), overhead", via_call, 5.0),
             ("breaker async with, overhead", via_with, 5.0),
             ("bucket try_acquire (granted)", bench_bucket(), 5.0),
             ("bucket try_acquire (refused)", bench_bucket_refusal(), 5.0)]
    lru_put, lru_get = bench_lru()
    ttl_put, ttl_get = bench_ttl()
    rows += [("LRU put (evicting)", lru_put, 2.0), ("LRU get (50% hit)", lru_get, 2.0),
             ("TTL put (evicting)", ttl_put, 2.0), ("TTL get (50% hit)", ttl_get, 2.0)]
    print(f"best of {ROUNDS} runs of {N} operations each")
    print(markdown_table(["operation", "us/op", "target us", "met"],
                         [(name, f"{us:.3f}", f"< {target:.0f}", "yes" if us < target else "NO")
                          for name, us, target in rows]))


if __name__ == "__main__":
    main()
