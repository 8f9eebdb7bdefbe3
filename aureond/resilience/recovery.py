"""Recovery context: what happened while an operation was being retried.

A :class:`RecoveryTracker` is the mutable record of one call (one per call, never
shared); :meth:`RecoveryTracker.snapshot` freezes it into a :class:`RecoveryContext`
for hooks, logs and :class:`~aureond.errors.RetryExhaustedError`. A
:class:`RecoveryBook` keeps one tracker per key (a peer address) across calls, for an
operator to see how a dependency's recovery is going: attempts since it last worked and
its last errors. It holds at most ``max_keys`` keys, dropping the least recently
touched.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from aureond.clock import Clock

from .classify import ErrorClass

__all__ = ["MAX_RECORDED_ERRORS", "ErrorRecord", "RecoveryBook", "RecoveryContext",
           "RecoveryTracker"]

K = TypeVar("K", bound=Hashable)

MAX_RECORDED_ERRORS = 10
"""How many of the most recent errors a context keeps."""

_MAX_MESSAGE = 200


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """One failed attempt: its class, exception type, message and wall-clock time."""

    error_class: ErrorClass
    error_type: str
    message: str
    at: float


@dataclass(frozen=True, slots=True)
class RecoveryContext:
    """An immutable snapshot of an operation's recovery so far."""

    operation: str
    attempts: int
    """Attempts made so far (the first call counts)."""
    errors: tuple[ErrorRecord, ...]
    """The last :data:`MAX_RECORDED_ERRORS` errors, oldest first."""
    next_backoff: float | None
    """Seconds before the next attempt, or None when there will be none."""
    elapsed: float
    """Seconds since the operation started."""

    @property
    def last_error(self) -> ErrorRecord | None:
        """The most recent error, if any."""
        return self.errors[-1] if self.errors else None


class RecoveryTracker:
    """Mutable per-call recovery state; freeze it with :meth:`snapshot`."""

    __slots__ = ("_clock", "_errors", "_started", "attempts", "operation")

    def __init__(self, operation: str, clock: Clock) -> None:
        self.operation = operation
        self.attempts = 0
        self._clock = clock
        self._started = clock.monotonic()
        self._errors: deque[ErrorRecord] = deque(maxlen=MAX_RECORDED_ERRORS)

    @property
    def elapsed(self) -> float:
        """Seconds since the tracker was created."""
        return self._clock.monotonic() - self._started

    def record_attempt(self) -> None:
        """Count one attempt."""
        self.attempts += 1

    def record_error(self, exc: BaseException, error_class: ErrorClass) -> ErrorRecord:
        """Remember ``exc`` (message cut to a bounded length) and return its record."""
        return self.record(error_class, type(exc).__name__, str(exc) or type(exc).__name__)

    def record(self, error_class: ErrorClass, error_type: str, message: str) -> ErrorRecord:
        """Remember a failure that is not an exception here (a peer that hung up)."""
        if len(message) > _MAX_MESSAGE:
            message = message[:_MAX_MESSAGE - 3] + "..."
        record = ErrorRecord(error_class, error_type, message, self._clock.wall())
        self._errors.append(record)
        return record

    def snapshot(self, next_backoff: float | None = None) -> RecoveryContext:
        """Freeze the state now."""
        return RecoveryContext(self.operation, self.attempts, tuple(self._errors),
                               next_backoff, self.elapsed)


class RecoveryBook(Generic[K]):
    """One :class:`RecoveryTracker` per key, kept from the first failure until
    :meth:`recovered`; see the module docstring."""

    __slots__ = ("_clock", "_max_keys", "_operation", "_trackers")

    def __init__(self, operation: str, clock: Clock, *, max_keys: int = 1024) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._operation = operation
        self._clock = clock
        self._max_keys = max_keys
        self._trackers: OrderedDict[K, RecoveryTracker] = OrderedDict()

    def __len__(self) -> int:
        return len(self._trackers)

    def _tracker(self, key: K) -> RecoveryTracker:
        tracker = self._trackers.get(key)
        if tracker is None:
            tracker = RecoveryTracker(self._operation, self._clock)
            self._trackers[key] = tracker
            while len(self._trackers) > self._max_keys:
                self._trackers.popitem(last=False)
        else:
            self._trackers.move_to_end(key)
        return tracker

    def attempt(self, key: K) -> None:
        """One more attempt at ``key``."""
        self._tracker(key).record_attempt()

    def failed(self, key: K, exc: BaseException, error_class: ErrorClass) -> ErrorRecord:
        """An attempt at ``key`` failed with ``exc``."""
        return self._tracker(key).record_error(exc, error_class)

    def failed_as(self, key: K, error_class: ErrorClass, error_type: str,
                  message: str) -> ErrorRecord:
        """An attempt at ``key`` failed in a way that is not an exception here."""
        return self._tracker(key).record(error_class, error_type, message)

    def recovered(self, key: K) -> None:
        """``key`` works again: its recovery is over, forget it."""
        self._trackers.pop(key, None)

    def context(self, key: K) -> RecoveryContext | None:
        """The recovery of ``key`` so far, or None when it is not recovering."""
        tracker = self._trackers.get(key)
        return tracker.snapshot() if tracker is not None else None
