"""Small performance values: cache counters and latency statistics.

:class:`PerfStats` is immutable; a :class:`PerfRecorder` accumulates on the hot path
(plain attribute updates, no allocation) and hands out :class:`PerfStats` snapshots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["CacheAccess", "CacheStats", "PerfRecorder", "PerfStats"]


@dataclass(frozen=True, slots=True)
class CacheAccess:
    """One cache lookup: ``hit`` or not (the listener event of the caches)."""

    cache: str
    hit: bool


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Counters of one cache. ``hits``/``misses``/``evictions``/``expirations`` only grow."""

    size: int
    max_size: int
    hits: int
    misses: int
    evictions: int
    expirations: int = 0

    @property
    def requests(self) -> int:
        """Lookups so far."""
        return self.hits + self.misses

    @property
    def hit_ratio(self) -> float:
        """Hits over lookups (0.0 before the first lookup)."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


@dataclass(frozen=True, slots=True)
class PerfStats:
    """Latency (seconds) and hit/miss statistics of some operation."""

    count: int = 0
    total: float = 0.0
    min: float = math.inf
    max: float = 0.0
    hits: int = 0
    misses: int = 0

    @property
    def avg(self) -> float:
        """Mean latency (0.0 when nothing was recorded)."""
        return self.total / self.count if self.count else 0.0

    @property
    def hit_ratio(self) -> float:
        """Hits over hits plus misses (0.0 when there were none)."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def with_latency(self, seconds: float) -> PerfStats:
        """These statistics plus one operation that took ``seconds``."""
        if seconds < 0:
            raise ValueError(f"a latency cannot be negative, got {seconds}")
        return PerfStats(self.count + 1, self.total + seconds, min(self.min, seconds),
                         max(self.max, seconds), self.hits, self.misses)

    def merge(self, other: PerfStats) -> PerfStats:
        """The statistics of both sets of operations together."""
        return PerfStats(self.count + other.count, self.total + other.total,
                         min(self.min, other.min), max(self.max, other.max),
                         self.hits + other.hits, self.misses + other.misses)


class PerfRecorder:
    """Mutable accumulator for :class:`PerfStats` on a hot path."""

    __slots__ = ("_count", "_hits", "_max", "_min", "_misses", "_total")

    def __init__(self) -> None:
        self._count = 0
        self._total = 0.0
        self._min = math.inf
        self._max = 0.0
        self._hits = 0
        self._misses = 0

    def record(self, seconds: float) -> None:
        """One operation took ``seconds``."""
        if seconds < 0:
            raise ValueError(f"a latency cannot be negative, got {seconds}")
        self._count += 1
        self._total += seconds
        self._min = min(self._min, seconds)
        self._max = max(self._max, seconds)

    def hit(self) -> None:
        """Count one hit."""
        self._hits += 1

    def miss(self) -> None:
        """Count one miss."""
        self._misses += 1

    def snapshot(self) -> PerfStats:
        """The statistics so far."""
        return PerfStats(self._count, self._total, self._min, self._max, self._hits,
                         self._misses)
