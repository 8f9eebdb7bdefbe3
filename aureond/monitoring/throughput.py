"""Operations per second: since start and over a sliding window.

``overall`` is ``total / (now - start)``. ``windowed`` is the count in the live window
(see :mod:`aureond.monitoring.window`) divided by the time that window really covers:
from the later of the tracker's start and the window's first bucket, up to now. A
span shorter than one bucket is taken as one bucket, so the first events after start
do not produce an absurd rate. Memory is fixed by the bucket count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aureond.clock import Clock
from aureond.monitoring._decode import get_float, get_int, get_str
from aureond.monitoring.window import BucketedCounter

__all__ = ["ThroughputSnapshot", "ThroughputTracker"]


@dataclass(frozen=True, slots=True)
class ThroughputSnapshot:
    """Throughput of one named stream of operations."""

    name: str
    total: int
    overall_per_second: float
    window_count: int
    window_per_second: float
    window_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "total": self.total,
            "overall_per_second": self.overall_per_second,
            "window_count": self.window_count,
            "window_per_second": self.window_per_second,
            "window_seconds": self.window_seconds,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ThroughputSnapshot:
        """Inverse of :meth:`to_dict`; ``ReportFormatError`` names a bad field."""
        return cls(name=get_str(data, "name"), total=get_int(data, "total"),
                   overall_per_second=get_float(data, "overall_per_second"),
                   window_count=get_int(data, "window_count"),
                   window_per_second=get_float(data, "window_per_second"),
                   window_seconds=get_float(data, "window_seconds"))


class ThroughputTracker:
    """Counts operations of one kind and reports their rate (see the module doc)."""

    def __init__(self, clock: Clock, name: str = "operations", *,
                 window_seconds: float = 60.0, bucket_seconds: float = 1.0) -> None:
        self._clock = clock
        self._name = name
        self._window = BucketedCounter(clock, fields=1, window_seconds=window_seconds,
                                       bucket_seconds=bucket_seconds)
        self._start = clock.monotonic()
        self._total = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def total(self) -> int:
        return self._total

    def record(self, n: int = 1) -> None:
        """Count ``n`` operations now (``n`` >= 0)."""
        if n < 0:
            raise ValueError(f"cannot record a negative number of operations ({n})")
        self._total += n
        self._window.add(0, n)

    def overall_rate(self) -> float:
        """Operations per second since start; 0.0 before any time has passed."""
        elapsed = self._clock.monotonic() - self._start
        return self._total / elapsed if elapsed > 0 else 0.0

    def window_count(self) -> int:
        return self._window.totals()[0]

    def window_rate(self) -> float:
        """Operations per second over the live window."""
        count = self.window_count()
        if count == 0:
            return 0.0
        now = self._clock.monotonic()
        span = now - max(self._start, self._window.window_start())
        return count / max(span, self._window.bucket_seconds)

    def snapshot(self) -> ThroughputSnapshot:
        return ThroughputSnapshot(name=self._name, total=self._total,
                                  overall_per_second=self.overall_rate(),
                                  window_count=self.window_count(),
                                  window_per_second=self.window_rate(),
                                  window_seconds=self._window.window_seconds)

    def reset(self) -> None:
        """Start over from now."""
        self._total = 0
        self._window.clear()
        self._start = self._clock.monotonic()
