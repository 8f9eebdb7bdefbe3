"""A size-bounded cache whose entries expire ``ttl`` seconds after they were put.

Every entry lives the same ``ttl``, so the order of insertion is the order of expiry:
entries sit in an ordered map oldest first, an expired entry found by ``get`` is dropped
there (lazy expiry), ``cleanup()`` drops every expired entry from the front in
O(expired), and a put into a full cache first cleans up, then evicts the entry closest
to expiry. ``get`` does not extend an entry's life; ``put`` does (it restarts the ttl).
Time comes from the injected clock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from aureond.clock import Clock

from .stats import CacheAccess, CacheStats

__all__ = ["TTLCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

AccessListener = Callable[[CacheAccess], None]


class TTLCache(Generic[K, V]):
    """A TTL cache of at most ``max_size`` entries; see the module docstring.

    ``name`` is a metrics label: keep it a fixed role, never data.
    """

    __slots__ = ("_clock", "_data", "_evictions", "_expirations", "_hits", "_listeners",
                 "_max_size", "_misses", "_ttl", "name")

    def __init__(self, max_size: int, ttl: float, clock: Clock, *, name: str = "ttl") -> None:
        if max_size < 1:
            raise ValueError(f"max_size must be at least 1, got {max_size}")
        if not ttl > 0:
            raise ValueError(f"ttl must be a positive number of seconds, got {ttl}")
        self.name = name
        self._max_size = max_size
        self._ttl = float(ttl)
        self._clock = clock
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._hits = 0
        self._misses = 0
        self._evictions = 0
        self._expirations = 0
        self._listeners: list[AccessListener] = []

    def __len__(self) -> int:
        """Entries held, expired ones not yet cleaned up included."""
        return len(self._data)

    @property
    def ttl(self) -> float:
        """Seconds an entry lives after its put."""
        return self._ttl

    @property
    def max_size(self) -> int:
        """The most entries the cache holds."""
        return self._max_size

    @property
    def stats(self) -> CacheStats:
        """Size and counters now."""
        return CacheStats(len(self._data), self._max_size, self._hits, self._misses,
                          self._evictions, self._expirations)

    def on_access(self, listener: AccessListener) -> Callable[[], None]:
        """Call ``listener`` on every ``get``; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def get(self, key: K, default: V | None = None) -> V | None:
        """The live value of ``key``, or ``default`` (an expired entry is dropped)."""
        entry = self._data.get(key)
        if entry is not None:
            if entry[0] > self._clock.monotonic():
                self._hits += 1
                if self._listeners:
                    self._notify(hit=True)
                return entry[1]
            del self._data[key]
            self._expirations += 1
        self._misses += 1
        if self._listeners:
            self._notify(hit=False)
        return default

    def contains(self, key: K) -> bool:
        """Whether ``key`` has a live entry; touches no counters."""
        entry = self._data.get(key)
        return entry is not None and entry[0] > self._clock.monotonic()

    def __contains__(self, key: object) -> bool:
        entry = self._data.get(key)  # type: ignore[arg-type]
        return entry is not None and bool(entry[0] > self._clock.monotonic())

    def put(self, key: K, value: V) -> None:
        """Insert or replace ``key``, living ``ttl`` seconds from now."""
        now = self._clock.monotonic()
        data = self._data
        if key in data:
            del data[key]
        elif len(data) >= self._max_size:
            self._cleanup(now)
            if len(data) >= self._max_size:
                data.popitem(last=False)
                self._evictions += 1
        data[key] = (now + self._ttl, value)

    def invalidate(self, key: K) -> bool:
        """Drop ``key``; returns whether it was there (live or not)."""
        return self._data.pop(key, None) is not None

    def clear(self) -> None:
        """Drop every entry (the counters keep counting)."""
        self._data.clear()

    def cleanup(self) -> int:
        """Drop every expired entry now; returns how many."""
        return self._cleanup(self._clock.monotonic())

    def keys(self) -> list[K]:
        """The keys, soonest to expire first (expired ones not yet dropped included)."""
        return list(self._data)

    def _cleanup(self, now: float) -> int:
        data = self._data
        dropped = 0
        while data:
            key = next(iter(data))
            if data[key][0] > now:
                break
            del data[key]
            dropped += 1
        self._expirations += dropped
        return dropped

    def _notify(self, *, hit: bool) -> None:
        event = CacheAccess(self.name, hit)
        for listener in self._listeners:
            listener(event)
