"""Recovery context: what happened while an operation was being retried.

A :class:`RecoveryTracker` is the mutable record of one call (one per call, never
shared); :meth:`RecoveryTracker.snapshot` freezes it into a :class:`RecoveryContext`
for hooks, logs and :class:`~aureond.errors.RetryExhaustedError`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from aureond.clock import Clock

from .classify import ErrorClass

__all__ = ["MAX_RECORDED_ERRORS", "ErrorRecord", "RecoveryContext", "RecoveryTracker"]

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
        message = str(exc)
        if len(message) > _MAX_MESSAGE:
            message = message[:_MAX_MESSAGE - 3] + "..."
        record = ErrorRecord(error_class, type(exc).__name__, message, self._clock.wall())
        self._errors.append(record)
        return record

    def snapshot(self, next_backoff: float | None = None) -> RecoveryContext:
        """Freeze the state now."""
        return RecoveryContext(self.operation, self.attempts, tuple(self._errors),
                               next_backoff, self.elapsed)
