"""Prometheus metrics for the resilience and caching primitives.

It sits in the wiring layer because it knows both: ``resilience``, ``caching`` and
``monitoring`` are leaves that import no other layer (the import contracts in
``pyproject.toml``), and only the service puts them together.

:class:`ResilienceMetrics` registers its metrics on the :class:`CollectorRegistry` it is
given (never the process default) and subscribes to the listener hooks of the pieces it
is asked to watch:

====================================================================  ===============
metric                                                                source
====================================================================  ===============
``aureond_circuit_breaker_state{breaker,state}`` gauge, 1 = current   state changes
``aureond_circuit_breaker_transitions_total{breaker,from_state,to_state}``  state changes
``aureond_rate_limited_total{limiter}``                               bucket refusals
``aureond_retries_total{operation,error_type}``                       retry waits
``aureond_cache_requests_total{cache,result}`` (hit, miss)            cache counters
``aureond_batch_flushes_total{reason}`` (size, timeout, manual, close)  batch flushes
====================================================================  ===============

Label values are bounded: ``breaker``, ``limiter``, ``operation`` and ``cache`` are the
names the caller gave the pieces, and the caller must choose them from a fixed set
(roles or peer slots such as ``peer-3``, never addresses, hashes or client ids). As a
guard, each label takes at most ``max_names`` distinct values; later new names are
counted under ``other``. ``error_type`` is the error class (``temporary``,
``timeout``, ``rate_limited``), not the exception type.

Cache requests are read from the caches' own counters at scrape time instead of from
their per-lookup hook, which keeps the lookup hot path free of metric updates.

A breaker's time-driven transitions (open -> half_open) happen when the breaker is next
consulted, so the state gauge changes then, not at the exact instant the timeout ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from aureond.caching import BatchFlush, CacheStats, FlushReason
from aureond.resilience import (
    BreakerState,
    CircuitBreaker,
    RateLimited,
    Retrier,
    RetryEvent,
    StateChange,
)

__all__ = ["DEFAULT_MAX_NAMES", "OTHER", "ResilienceMetrics"]

DEFAULT_MAX_NAMES = 64
OTHER = "other"

Unsubscribe = Callable[[], None]


class _Limiter(Protocol):
    name: str

    def on_rate_limited(self, listener: Callable[[RateLimited], None]) -> Unsubscribe: ...


class _Batcher(Protocol):
    def on_flush(self, listener: Callable[[BatchFlush], None]) -> Unsubscribe: ...


class _Cache(Protocol):
    name: str

    @property
    def stats(self) -> CacheStats: ...


class _BoundedNames:
    """Passes the first ``limit`` distinct names through, maps later ones to OTHER."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()

    def __call__(self, name: str) -> str:
        if name in self._seen:
            return name
        if len(self._seen) >= self._limit:
            return OTHER
        self._seen.add(name)
        return name


class _CacheCollector(Collector):
    """Reads hit/miss counters from the watched caches at scrape time."""

    def __init__(self) -> None:
        self.caches: list[tuple[str, _Cache]] = []

    def describe(self) -> Iterable[CounterMetricFamily]:
        return [self._family()]

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = self._family()
        totals: dict[str, tuple[int, int]] = {}
        for label, cache in self.caches:
            stats = cache.stats
            hits, misses = totals.get(label, (0, 0))
            totals[label] = (hits + stats.hits, misses + stats.misses)
        for label, (hits, misses) in totals.items():
            family.add_metric([label, "hit"], hits)
            family.add_metric([label, "miss"], misses)
        yield family

    @staticmethod
    def _family() -> CounterMetricFamily:
        return CounterMetricFamily("aureond_cache_requests", "Cache lookups by result.",
                                   labels=["cache", "result"])


class ResilienceMetrics:
    """Exports the resilience and caching hooks as Prometheus metrics."""

    def __init__(self, registry: CollectorRegistry, *,
                 max_names: int = DEFAULT_MAX_NAMES) -> None:
        self._breaker_state = Gauge(
            "aureond_circuit_breaker_state",
            "Circuit breaker state: 1 for the current state, 0 for the others.",
            ["breaker", "state"], registry=registry)
        self._transitions = Counter(
            "aureond_circuit_breaker_transitions",
            "Circuit breaker state transitions.",
            ["breaker", "from_state", "to_state"], registry=registry)
        self._rate_limited = Counter(
            "aureond_rate_limited", "Requests refused by a token bucket.",
            ["limiter"], registry=registry)
        self._retries = Counter(
            "aureond_retries", "Retries after a retryable failure, by error class.",
            ["operation", "error_type"], registry=registry)
        self._flushes = Counter(
            "aureond_batch_flushes", "Batches handed to their flush function, by reason.",
            ["reason"], registry=registry)
        self._caches = _CacheCollector()
        registry.register(self._caches)
        self._breaker_names = _BoundedNames(max_names)
        self._limiter_names = _BoundedNames(max_names)
        self._operation_names = _BoundedNames(max_names)
        self._cache_names = _BoundedNames(max_names)

    def watch_breaker(self, breaker: CircuitBreaker) -> Unsubscribe:
        """Export ``breaker``'s state and transitions under its name."""
        label = self._breaker_names(breaker.name)
        self._set_state(label, breaker.state)

        def changed(change: StateChange) -> None:
            self._transitions.labels(label, change.from_state.value,
                                     change.to_state.value).inc()
            self._set_state(label, change.to_state)

        return breaker.on_state_change(changed)

    def watch_bucket(self, bucket: _Limiter) -> Unsubscribe:
        """Count the refusals of a :class:`TokenBucket` (or of a whole :class:`KeyedBuckets`)."""
        counter = self._rate_limited.labels(self._limiter_names(bucket.name))

        def refused(_event: RateLimited) -> None:
            counter.inc()

        return bucket.on_rate_limited(refused)

    def watch_retrier(self, retrier: Retrier) -> Unsubscribe:
        """Count every retry of every operation run through ``retrier``."""
        def retried(event: RetryEvent) -> None:
            self._retries.labels(self._operation_names(event.operation),
                                 event.error_class.value).inc()

        return retrier.on_retry(retried)

    def watch_cache(self, cache: _Cache) -> Unsubscribe:
        """Export a cache's hits and misses (read from its counters when scraped).

        Caches sharing a name add up under it.
        """
        entry = (self._cache_names(cache.name), cache)
        self._caches.caches.append(entry)
        return lambda: self._caches.caches.remove(entry)

    def watch_batch(self, processor: _Batcher) -> Unsubscribe:
        """Count a :class:`BatchProcessor`'s flushes by reason."""
        for reason in FlushReason:
            self._flushes.labels(reason.value)

        def flushed(event: BatchFlush) -> None:
            self._flushes.labels(event.reason.value).inc()

        return processor.on_flush(flushed)

    def _set_state(self, label: str, current: BreakerState) -> None:
        for state in BreakerState:
            self._breaker_state.labels(label, state.value).set(
                1.0 if state is current else 0.0)
