"""Error recovery: error classes, circuit breaker, token buckets, retry.

Component health is judged in one place, :mod:`aureond.monitoring.health`.

Everything here takes its time from an injected :class:`~aureond.clock.Clock` and its
randomness from an injected :class:`~aureond.clock.RandomSource`, and reports through
listener callbacks (``on_state_change``, ``on_rejection``, ``on_rate_limited``,
``on_retry``); ``aureond.service.resilience_metrics`` turns those into
Prometheus metrics. Names given to breakers, buckets and operations become metric
labels, so the caller keeps them bounded (roles or peer slots, never addresses).
"""

from __future__ import annotations

from .circuit_breaker import BreakerConfig, BreakerState, CircuitBreaker, Rejection, StateChange
from .classify import ErrorClass, ErrorTable, classify
from .keyed_buckets import KeyedBuckets
from .recovery import ErrorRecord, RecoveryBook, RecoveryContext, RecoveryTracker
from .retry import Retrier, RetryEvent, RetryPolicy
from .token_bucket import RateLimited, TokenBucket

__all__ = [
    "BreakerConfig",
    "BreakerState",
    "CircuitBreaker",
    "ErrorClass",
    "ErrorRecord",
    "ErrorTable",
    "KeyedBuckets",
    "RateLimited",
    "RecoveryBook",
    "RecoveryContext",
    "RecoveryTracker",
    "Rejection",
    "Retrier",
    "RetryEvent",
    "RetryPolicy",
    "StateChange",
    "TokenBucket",
    "classify",
]
