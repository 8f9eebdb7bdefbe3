"""Performance primitives: LRU and TTL caches, lazy values, a batch processor, stats.

Time comes from an injected :class:`~aureond.clock.Clock`. Caches count hits, misses,
evictions and expirations in :class:`CacheStats` and can report each lookup to a
listener; the batch processor reports each flush. Names become metric labels, so they
are fixed roles chosen by the caller, never data.
"""

from __future__ import annotations

from .batch import BatchClosedError, BatchFlush, BatchFlushError, BatchProcessor, FlushReason
from .lazy import Lazy
from .lru import LRUCache
from .stats import CacheAccess, CacheStats, PerfRecorder, PerfStats
from .ttl import TTLCache

__all__ = [
    "BatchClosedError",
    "BatchFlush",
    "BatchFlushError",
    "BatchProcessor",
    "CacheAccess",
    "CacheStats",
    "FlushReason",
    "LRUCache",
    "Lazy",
    "PerfRecorder",
    "PerfStats",
    "TTLCache",
]
