"""A size-bounded least-recently-used cache for the synchronous hot path.

``get`` refreshes an entry's recency, ``put`` inserts or replaces (and refreshes) it, and
a put into a full cache evicts the least recently used entry. ``contains`` looks without
touching recency or the counters. Not thread-safe; meant for one event loop.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from .stats import CacheAccess, CacheStats

__all__ = ["LRUCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

AccessListener = Callable[[CacheAccess], None]


class LRUCache(Generic[K, V]):
    """An LRU cache of at most ``max_size`` entries; see the module docstring.

    ``name`` is a metrics label: keep it a fixed role (``"headers"``), never data.
    """

    __slots__ = ("_data", "_evictions", "_hits", "_listeners", "_max_size", "_misses",
                 "name")

    def __init__(self, max_size: int, *, name: str = "lru") -> None:
        if max_size < 1:
            raise ValueError(f"max_size must be at least 1, got {max_size}")
        self.name = name
        self._max_size = max_size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._hits = 0
        self._misses = 0
        self._evictions = 0
        self._listeners: list[AccessListener] = []

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    @property
    def max_size(self) -> int:
        """The most entries the cache holds."""
        return self._max_size

    @property
    def stats(self) -> CacheStats:
        """Size and counters now."""
        return CacheStats(len(self._data), self._max_size, self._hits, self._misses,
                          self._evictions)

    def on_access(self, listener: AccessListener) -> Callable[[], None]:
        """Call ``listener`` on every ``get``; returns an unsubscribe function.

        This costs a call per lookup; counting consumers should read :attr:`stats`.
        """
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def get(self, key: K, default: V | None = None) -> V | None:
        """The value of ``key`` (now the most recently used), or ``default``."""
        try:
            value = self._data[key]
        except KeyError:
            self._misses += 1
            if self._listeners:
                self._notify(hit=False)
            return default
        self._data.move_to_end(key)
        self._hits += 1
        if self._listeners:
            self._notify(hit=True)
        return value

    def contains(self, key: K) -> bool:
        """Whether ``key`` is cached; touches neither recency nor counters."""
        return key in self._data

    def put(self, key: K, value: V) -> None:
        """Insert or replace ``key``; evicts the least recently used entry when full."""
        data = self._data
        if key in data:
            data.move_to_end(key)
        elif len(data) >= self._max_size:
            data.popitem(last=False)
            self._evictions += 1
        data[key] = value

    def invalidate(self, key: K) -> bool:
        """Drop ``key``; returns whether it was there."""
        return self._data.pop(key, _ABSENT) is not _ABSENT

    def clear(self) -> None:
        """Drop every entry (the counters keep counting)."""
        self._data.clear()

    def keys(self) -> list[K]:
        """The keys from least to most recently used."""
        return list(self._data)

    def _notify(self, *, hit: bool) -> None:
        event = CacheAccess(self.name, hit)
        for listener in self._listeners:
            listener(event)


_ABSENT = object()
