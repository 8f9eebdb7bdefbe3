"""One token bucket per key (client, peer), bounded in number and evicted when idle.

A bucket left alone for ``capacity / refill_rate`` seconds is full again, exactly like a
new one, so evicting it after that long loses nothing: that is the default
``idle_timeout``. Idle buckets are dropped lazily on each access (oldest first) and by
``evict_idle()``. When ``max_keys`` buckets are all in use the least recently used one
is dropped to make room; that resets its key to a full bucket, so size ``max_keys``
above the number of clients expected at once.

Keys are never used as metric labels: all buckets of a map report under its one
``name``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from aureond.clock import Clock
from aureond.errors import ConfigError

from .token_bucket import RateLimited, RateLimitedListener, TokenBucket

__all__ = ["KeyedBuckets"]

K = TypeVar("K", bound=Hashable)


class KeyedBuckets(Generic[K]):
    """A bounded map of key -> :class:`TokenBucket` sharing one shape; see the module."""

    def __init__(self, capacity: float, refill_rate: float, clock: Clock, *,
                 name: str = "keyed", max_keys: int = 10_000,
                 idle_timeout: float | None = None) -> None:
        if max_keys < 1:
            raise ConfigError("max_keys", "must be at least 1")
        if not capacity > 0:
            raise ConfigError("capacity", "must be a positive number of tokens")
        if not refill_rate > 0:
            raise ConfigError("refill_rate", "must be a positive number of tokens per second")
        idle = capacity / refill_rate if idle_timeout is None else idle_timeout
        if not idle > 0:
            raise ConfigError("idle_timeout", "must be a positive number of seconds")
        self.name = name
        self._capacity = capacity
        self._rate = refill_rate
        self._clock = clock
        self._max_keys = max_keys
        self._idle = idle
        self._buckets: OrderedDict[K, TokenBucket] = OrderedDict()
        self._listeners: list[RateLimitedListener] = []

    def __len__(self) -> int:
        return len(self._buckets)

    def __contains__(self, key: object) -> bool:
        return key in self._buckets

    def on_rate_limited(self, listener: RateLimitedListener) -> Callable[[], None]:
        """Call ``listener`` for each refusal of any key; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def bucket(self, key: K) -> TokenBucket:
        """The bucket of ``key``, created full if absent; marks it most recently used."""
        now = self._clock.monotonic()
        self._evict_idle(now)
        bucket = self._buckets.get(key)
        if bucket is not None:
            self._buckets.move_to_end(key)
            return bucket
        while len(self._buckets) >= self._max_keys:
            self._buckets.popitem(last=False)
        bucket = TokenBucket(self._capacity, self._rate, self._clock, name=self.name)
        bucket.on_rate_limited(self._forward)
        self._buckets[key] = bucket
        return bucket

    def try_acquire(self, key: K, n: float = 1) -> bool:
        """Take ``n`` tokens from ``key``'s bucket if they are there now."""
        return self.bucket(key).try_acquire(n)

    def time_until_available(self, key: K, n: float = 1) -> float:
        """Seconds until ``key``'s bucket holds ``n`` tokens."""
        return self.bucket(key).time_until_available(n)

    async def acquire(self, key: K, n: float = 1,
                      timeout: float | None = None) -> None:  # noqa: ASYNC109 - see TokenBucket
        """Take ``n`` tokens from ``key``'s bucket, waiting as :meth:`TokenBucket.acquire`."""
        await self.bucket(key).acquire(n, timeout)

    def evict_idle(self) -> int:
        """Drop every bucket idle for ``idle_timeout``; returns how many were dropped."""
        return self._evict_idle(self._clock.monotonic())

    def _evict_idle(self, now: float) -> int:
        dropped = 0
        buckets = self._buckets
        while buckets:
            key = next(iter(buckets))
            if now - buckets[key].last_used() < self._idle:
                break
            del buckets[key]
            dropped += 1
        return dropped

    def _forward(self, event: RateLimited) -> None:
        for listener in self._listeners:
            listener(event)
