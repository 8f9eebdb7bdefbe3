"""LRU cache: eviction order, recency, counters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aureond.caching import CacheAccess, LRUCache


@pytest.mark.parametrize(("script", "keys"), [
    # capacity 3; "pK" = put K, "gK" = get K; keys listed least to most recently used
    ("pa pb pc", "abc"),
    ("pa pb pc pd", "bcd"),                 # a was least recently used
    ("pa pb pc ga pd", "cad"),              # get refreshed a, so b went
    ("pa pb pc pa pd", "cad"),              # so did a put of an existing key
    ("pa pb pc gz pd", "bcd"),              # a miss changes nothing
    ("pa pb pc gc gb ga pd pe", "ade"),
])
def test_eviction_order(script: str, keys: str) -> None:
    cache: LRUCache[str, int] = LRUCache(3)
    for step in script.split():
        if step[0] == "p":
            cache.put(step[1], 0)
        else:
            cache.get(step[1])
    assert cache.keys() == list(keys)


def test_get_put_contains_invalidate_and_counters() -> None:
    cache: LRUCache[str, int] = LRUCache(2, name="headers")
    assert cache.get("a") is None
    assert cache.get("a", -1) == -1
    cache.put("a", 1)
    cache.put("a", 2)                       # replace, no eviction
    assert cache.get("a") == 2
    assert cache.contains("a")
    assert "a" in cache
    cache.put("b", 3)
    cache.put("c", 4)                       # evicts a
    assert not cache.contains("a")
    assert cache.invalidate("b")
    assert not cache.invalidate("b")
    stats = cache.stats
    assert (stats.hits, stats.misses, stats.evictions, stats.size) == (1, 2, 1, 1)
    assert stats.hit_ratio == pytest.approx(1 / 3)
    cache.clear()
    assert len(cache) == 0
    assert cache.stats.hits == 1


def test_contains_touches_neither_recency_nor_counters() -> None:
    cache: LRUCache[str, int] = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.contains("a")
    cache.put("c", 3)
    assert cache.keys() == ["b", "c"]
    assert cache.stats.requests == 0


def test_access_listener() -> None:
    cache: LRUCache[str, int] = LRUCache(2, name="c")
    seen: list[CacheAccess] = []
    stop = cache.on_access(seen.append)
    cache.put("a", 1)
    cache.get("a")
    cache.get("b")
    stop()
    cache.get("a")
    assert seen == [CacheAccess("c", True), CacheAccess("c", False)]


def test_none_values_are_cached() -> None:
    cache: LRUCache[str, int | None] = LRUCache(2)
    cache.put("a", None)
    assert cache.get("a", 5) is None
    assert cache.stats.hits == 1


def test_invalid_size() -> None:
    with pytest.raises(ValueError, match="max_size"):
        LRUCache(0)


@given(size=st.integers(1, 6), ops=st.lists(st.tuples(st.booleans(), st.integers(0, 9)),
                                             max_size=60))
def test_matches_a_reference_model(size: int, ops: list[tuple[bool, int]]) -> None:
    cache: LRUCache[int, int] = LRUCache(size)
    model: list[int] = []                   # least to most recently used
    hits = 0
    for is_put, key in ops:
        if is_put:
            if key in model:
                model.remove(key)
            elif len(model) == size:
                model.pop(0)
            model.append(key)
            cache.put(key, key * 10)
        else:
            expected = key * 10 if key in model else None
            if key in model:
                model.remove(key)
                model.append(key)
                hits += 1
            assert cache.get(key) == expected
        assert cache.keys() == model
    assert cache.stats.hits == hits
