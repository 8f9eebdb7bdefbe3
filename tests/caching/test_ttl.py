"""TTL cache: expiry (lazy and explicit), size bound, counters, on a fake clock."""

from __future__ import annotations

import pytest

from aureond.caching import TTLCache
from aureond.clock import FakeClock


def make(size: int = 3, ttl: float = 10.0) -> tuple[TTLCache[str, int], FakeClock]:
    clock = FakeClock()
    return TTLCache(size, ttl, clock, name="tips"), clock


def test_entries_live_exactly_ttl() -> None:
    cache, clock = make()
    cache.put("a", 1)
    clock.advance(9.999)
    assert cache.get("a") == 1
    clock.advance(0.001)
    assert cache.get("a") is None           # expired at put + ttl
    assert len(cache) == 0                  # ... and dropped lazily
    stats = cache.stats
    assert (stats.hits, stats.misses, stats.expirations) == (1, 1, 1)


def test_get_does_not_extend_put_does() -> None:
    cache, clock = make()
    cache.put("a", 1)
    clock.advance(6.0)
    assert cache.get("a") == 1
    clock.advance(6.0)
    assert cache.get("a") is None
    cache.put("b", 1)
    clock.advance(6.0)
    cache.put("b", 2)
    clock.advance(6.0)
    assert cache.get("b") == 2


def test_contains_sees_expiry_without_counting() -> None:
    cache, clock = make()
    cache.put("a", 1)
    assert cache.contains("a")
    assert "a" in cache
    clock.advance(10.0)
    assert not cache.contains("a")
    assert "a" not in cache
    assert cache.stats.requests == 0


def test_cleanup_drops_expired_in_expiry_order() -> None:
    cache, clock = make(size=10)
    for i, key in enumerate("abcde"):       # a expires at t10, b t11, ... e t14
        cache.put(key, i)
        clock.advance(1.0)
    cache.put("b", 9)                       # put again at t5: now expires at t15, last
    clock.advance(6.0)                      # t11: only a has expired
    assert cache.keys() == ["a", "c", "d", "e", "b"]
    assert cache.cleanup() == 1
    assert cache.keys() == ["c", "d", "e", "b"]
    clock.advance(3.0)                      # t14: c, d, e
    assert cache.cleanup() == 3
    assert cache.keys() == ["b"]
    assert cache.stats.expirations == 4


@pytest.mark.parametrize(("advance", "left"), [
    (0.0, "abcdeB"), (10.0, "bcdeB"), (12.0, "deB"), (14.5, "B"), (15.0, ""),
])
def test_cleanup_table(advance: float, left: str) -> None:
    cache, clock = make(size=10)
    for key in "abcde":                     # a at t0 ... e at t4
        cache.put(key, 0)
        clock.advance(1.0)
    cache.put("B", 0)                       # at t5
    clock.advance(advance - 5.0 if advance >= 5.0 else 0.0)
    cache.cleanup()
    assert "".join(cache.keys()) == left


def test_full_cache_drops_expired_first_then_soonest_to_expire() -> None:
    cache, clock = make(size=3)
    cache.put("a", 1)
    clock.advance(5.0)
    cache.put("b", 2)
    cache.put("c", 3)
    clock.advance(5.0)                      # a expired, b and c alive
    cache.put("d", 4)
    assert cache.keys() == ["b", "c", "d"]
    assert (cache.stats.evictions, cache.stats.expirations) == (0, 1)
    cache.put("e", 5)                       # nothing expired: b goes
    assert cache.keys() == ["c", "d", "e"]
    assert cache.stats.evictions == 1


def test_invalidate_and_clear() -> None:
    cache, _ = make()
    cache.put("a", 1)
    assert cache.invalidate("a")
    assert not cache.invalidate("a")
    cache.put("b", 2)
    cache.clear()
    assert len(cache) == 0


@pytest.mark.parametrize(("size", "ttl"), [(0, 1.0), (1, 0.0), (1, -1.0)])
def test_invalid_arguments(size: int, ttl: float) -> None:
    with pytest.raises(ValueError, match=r"max_size|ttl"):
        TTLCache(size, ttl, FakeClock())
