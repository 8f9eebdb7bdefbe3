"""Retry with capped exponential backoff and full jitter.

After failed attempt ``k`` (1-based) the wait is drawn uniformly from
``[0, min(max_delay, initial_delay * multiplier ** (k - 1))]`` ("full jitter": retrying
clients spread out instead of arriving in waves). Only TEMPORARY, TIMEOUT and
RATE_LIMITED failures are retried; for RATE_LIMITED the wait is at least the error's
``retry_after``. PERMANENT and CIRCUIT_OPEN failures are re-raised unchanged at once
(a circuit breaker already decided when to try again).

A call gives up with :class:`~aureond.errors.RetryExhaustedError` (``from`` the last
error, carrying the :class:`RecoveryContext`) after ``max_attempts`` attempts, or as soon
as the next wait would end past the overall ``deadline``: sleeping only to fail is
pointless. Every call starts afresh; a :class:`Retrier` keeps no state between calls.

``RetryPolicy.no_backoff()`` is the test mode: same attempts and classification, no
waiting at all (``retry_after`` included).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aureond.clock import Clock, RandomSource
from aureond.errors import ConfigError, RateLimitedError, RetryExhaustedError

from .classify import ErrorClass, classify
from .recovery import RecoveryContext, RecoveryTracker

__all__ = ["RetryEvent", "RetryPolicy", "Retrier"]

T = TypeVar("T")

Classifier = Callable[[BaseException], ErrorClass]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry (durations in seconds)."""

    max_attempts: int = 5
    """Attempts in total, the first one included."""
    initial_delay: float = 0.1
    """Backoff bound after the first failure."""
    max_delay: float = 10.0
    """Cap on the backoff bound."""
    multiplier: float = 2.0
    """Growth of the bound per failure."""
    deadline: float | None = 30.0
    """Overall time budget of a call, or None for none."""
    jitter: bool = True
    """Full jitter (uniform in [0, bound]); False waits the bound itself."""
    backoff: bool = True
    """False: never wait (test mode)."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError("max_attempts", "must be at least 1")
        if self.initial_delay < 0:
            raise ConfigError("initial_delay", "must be >= 0 seconds")
        if self.max_delay < self.initial_delay:
            raise ConfigError("max_delay", "must be >= initial_delay")
        if self.multiplier < 1:
            raise ConfigError("multiplier", "must be >= 1")
        if self.deadline is not None and not self.deadline > 0:
            raise ConfigError("deadline", "must be a positive number of seconds, or unset")

    @classmethod
    def no_backoff(cls, max_attempts: int = 3) -> RetryPolicy:
        """Test mode: ``max_attempts`` attempts back to back, no deadline, no waiting."""
        return cls(max_attempts=max_attempts, deadline=None, backoff=False)

    def bound(self, failures: int) -> float:
        """The backoff bound after ``failures`` failed attempts (>= 1)."""
        try:
            raw = self.initial_delay * self.multiplier ** (failures - 1)
        except OverflowError:
            return self.max_delay
        return raw if raw < self.max_delay else self.max_delay

    def delay(self, failures: int, rng: RandomSource, retry_after: float = 0.0) -> float:
        """The wait after ``failures`` failed attempts; draws one number if jittering."""
        if not self.backoff:
            return 0.0
        bound = self.bound(failures)
        wait = rng.random() * bound if self.jitter else bound
        return wait if wait >= retry_after else retry_after


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """A retry is about to wait ``delay`` seconds after a failure of ``error_class``."""

    operation: str
    attempt: int
    """The attempt that just failed (1-based)."""
    error_class: ErrorClass
    error_type: str
    delay: float
    context: RecoveryContext


RetryListener = Callable[[RetryEvent], None]


class Retrier:
    """Runs async calls under a :class:`RetryPolicy`; see the module docstring."""

    __slots__ = ("_classifier", "_clock", "_listeners", "_policy", "_rng")

    def __init__(self, policy: RetryPolicy, clock: Clock, rng: RandomSource, *,
                 classifier: Classifier = classify) -> None:
        self._policy = policy
        self._clock = clock
        self._rng = rng
        self._classifier = classifier
        self._listeners: list[RetryListener] = []

    @property
    def policy(self) -> RetryPolicy:
        """The policy every call follows."""
        return self._policy

    def on_retry(self, listener: RetryListener) -> Callable[[], None]:
        """Call ``listener`` before each backoff wait; returns an unsubscribe function.

        ``operation`` (given to :meth:`call`) becomes a metrics label: keep it bounded.
        """
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def call(self, operation: str, fn: Callable[[], Awaitable[T]]) -> T:
        """Await ``fn()`` until it succeeds, retrying retryable failures per the policy."""
        policy = self._policy
        tracker = RecoveryTracker(operation, self._clock)
        while True:
            tracker.record_attempt()
            try:
                return await fn()
            except Exception as exc:
                error_class = self._classifier(exc)
                tracker.record_error(exc, error_class)
                if not error_class.retryable:
                    raise
                if tracker.attempts >= policy.max_attempts:
                    raise RetryExhaustedError(operation, tracker.attempts,
                                              tracker.snapshot()) from exc
                retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else 0.0
                delay = policy.delay(tracker.attempts, self._rng, retry_after)
                if policy.deadline is not None and tracker.elapsed + delay > policy.deadline:
                    raise RetryExhaustedError(operation, tracker.attempts,
                                              tracker.snapshot()) from exc
                if self._listeners:
                    event = RetryEvent(operation, tracker.attempts, error_class,
                                       type(exc).__name__, delay, tracker.snapshot(delay))
                    for listener in self._listeners:
                        listener(event)
            await self._clock.sleep(delay)
