"""A sliding time window of counters in fixed clock-driven buckets.

The window is ``buckets`` slots of ``bucket_seconds`` each, indexed by
``floor(clock.monotonic() / bucket_seconds)``. A slot is reused (zeroed) when its index
comes round again, so memory is fixed (``buckets * fields`` integers) whatever the
event rate. The live window is the current bucket plus the ``buckets - 1`` before it:
it spans between ``window_seconds - bucket_seconds`` and ``window_seconds`` of history,
and an event leaves it once its bucket is ``buckets`` buckets old.

Writes are O(1); reads are O(buckets).
"""

from __future__ import annotations

import math

from aureond.clock import Clock
from aureond.errors import ConfigError

__all__ = ["BucketedCounter", "validate_window"]

_MAX_BUCKETS = 3_600
_UNUSED = -(2**62)  # bucket index of a slot that holds nothing


def validate_window(window_seconds: float, bucket_seconds: float) -> int:
    """The number of buckets for a window, or ``ConfigError`` naming the bad value."""
    if not math.isfinite(bucket_seconds) or bucket_seconds <= 0:
        raise ConfigError("bucket_seconds", f"must be a positive number, got {bucket_seconds!r}")
    if not math.isfinite(window_seconds) or window_seconds < bucket_seconds:
        raise ConfigError("window_seconds",
                          f"must be at least bucket_seconds ({bucket_seconds}), "
                          f"got {window_seconds!r}")
    buckets = round(window_seconds / bucket_seconds)
    if not math.isclose(buckets * bucket_seconds, window_seconds, rel_tol=1e-9):
        raise ConfigError("window_seconds",
                          f"must be a whole multiple of bucket_seconds ({bucket_seconds}), "
                          f"got {window_seconds!r}")
    if buckets > _MAX_BUCKETS:
        raise ConfigError("window_seconds",
                          f"needs {buckets} buckets, more than {_MAX_BUCKETS}; "
                          "use larger buckets")
    return buckets


class BucketedCounter:
    """``fields`` integer counters summed over a sliding window of time buckets."""

    __slots__ = ("_bucket_seconds", "_buckets", "_clock", "_counts", "_fields", "_ids")

    def __init__(self, clock: Clock, *, fields: int, window_seconds: float = 60.0,
                 bucket_seconds: float = 1.0) -> None:
        if fields < 1:
            raise ConfigError("fields", f"must be at least 1, got {fields}")
        self._buckets = validate_window(window_seconds, bucket_seconds)
        self._clock = clock
        self._fields = fields
        self._bucket_seconds = float(bucket_seconds)
        self._ids = [_UNUSED] * self._buckets
        self._counts = [[0] * fields for _ in range(self._buckets)]

    @property
    def window_seconds(self) -> float:
        return self._buckets * self._bucket_seconds

    @property
    def bucket_seconds(self) -> float:
        return self._bucket_seconds

    def _current(self) -> int:
        return math.floor(self._clock.monotonic() / self._bucket_seconds)

    def window_start(self) -> float:
        """The monotonic time at which the live window starts."""
        return (self._current() - self._buckets + 1) * self._bucket_seconds

    def add(self, field: int, n: int = 1) -> None:
        """Count ``n`` events in counter ``field`` at the current time."""
        if not 0 <= field < self._fields:
            raise IndexError(f"field {field} out of range 0..{self._fields - 1}")
        index = self._current()
        slot = index % self._buckets
        if self._ids[slot] != index:
            self._ids[slot] = index
            row = self._counts[slot]
            for i in range(self._fields):
                row[i] = 0
        self._counts[slot][field] += n

    def totals(self) -> tuple[int, ...]:
        """Each counter summed over the live window."""
        current = self._current()
        oldest = current - self._buckets + 1
        sums = [0] * self._fields
        for slot_id, row in zip(self._ids, self._counts, strict=True):
            if oldest <= slot_id <= current:
                for i, value in enumerate(row):
                    sums[i] += value
        return tuple(sums)

    def clear(self) -> None:
        """Forget every bucket."""
        for slot in range(self._buckets):
            self._ids[slot] = _UNUSED
            row = self._counts[slot]
            for i in range(self._fields):
                row[i] = 0
