"""Latency per operation over a bounded window of recent samples.

Each operation keeps a ring buffer of its last ``window`` durations (seconds) and a
lifetime sample count. Average, minimum, maximum and the quantiles are computed over
the ring buffer only, so they describe recent behaviour and memory stays bounded.

Quantiles use the **nearest-rank** definition: for ``n`` sorted samples
``x[1] <= ... <= x[n]`` the q-quantile (0 < q <= 1) is ``x[ceil(q * n)]``; q = 0 gives
``x[1]``. It always returns an observed sample, never an interpolated value.

Operation names are bounded: the first ``max_operations`` distinct names get their
own window; every later new name is counted under ``"other"`` (which does not count
toward the limit), so a caller that puts an unbounded value into the name cannot make
the tracker grow without limit.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aureond.clock import Clock
from aureond.errors import ConfigError
from aureond.monitoring._decode import get_float, get_int, get_str

__all__ = [
    "DEFAULT_MAX_OPERATIONS",
    "DEFAULT_WINDOW",
    "OTHER_OPERATION",
    "LatencySnapshot",
    "LatencyTracker",
    "nearest_rank",
]

DEFAULT_WINDOW = 1_024
DEFAULT_MAX_OPERATIONS = 64
OTHER_OPERATION = "other"


def nearest_rank(sorted_samples: Sequence[float], q: float) -> float:
    """The nearest-rank q-quantile of already sorted samples (see the module doc)."""
    if not sorted_samples:
        raise ValueError("no samples: a quantile of an empty window is undefined")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be within [0, 1], got {q!r}")
    rank = max(1, math.ceil(q * len(sorted_samples)))
    return sorted_samples[rank - 1]


@dataclass(frozen=True, slots=True)
class LatencySnapshot:
    """Latency of one operation, in seconds, over its recent window."""

    operation: str
    count: int           # samples observed since start (or reset)
    window_count: int    # samples in the window the statistics below describe
    average: float
    minimum: float
    maximum: float
    p50: float
    p95: float
    p99: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "count": self.count,
            "window_count": self.window_count,
            "average_seconds": self.average,
            "min_seconds": self.minimum,
            "max_seconds": self.maximum,
            "p50_seconds": self.p50,
            "p95_seconds": self.p95,
            "p99_seconds": self.p99,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LatencySnapshot:
        """Inverse of :meth:`to_dict`; ``ReportFormatError`` names a bad field."""
        return cls(
            operation=get_str(data, "operation"),
            count=get_int(data, "count"),
            window_count=get_int(data, "window_count"),
            average=get_float(data, "average_seconds"),
            minimum=get_float(data, "min_seconds"),
            maximum=get_float(data, "max_seconds"),
            p50=get_float(data, "p50_seconds"),
            p95=get_float(data, "p95_seconds"),
            p99=get_float(data, "p99_seconds"),
        )


class _Window:
    __slots__ = ("count", "samples")

    def __init__(self, size: int) -> None:
        self.samples: deque[float] = deque(maxlen=size)
        self.count = 0


class LatencyTracker:
    """Recent latency statistics per operation name (see the module doc)."""

    def __init__(self, clock: Clock, *, window: int = DEFAULT_WINDOW,
                 max_operations: int = DEFAULT_MAX_OPERATIONS) -> None:
        if window < 1:
            raise ConfigError("window", f"must be at least 1 sample, got {window}")
        if max_operations < 1:
            raise ConfigError("max_operations", f"must be at least 1, got {max_operations}")
        self._clock = clock
        self._window = window
        self._max_operations = max_operations
        self._ops: dict[str, _Window] = {}
        self._named = 0  # operations with their own window, "other" excluded

    @property
    def window(self) -> int:
        return self._window

    def _slot(self, operation: str) -> _Window:
        slot = self._ops.get(operation)
        if slot is not None:
            return slot
        if not operation:
            raise ValueError("operation name must not be empty")
        if operation != OTHER_OPERATION:
            if self._named >= self._max_operations:
                return self._slot(OTHER_OPERATION)
            self._named += 1
        slot = _Window(self._window)
        self._ops[operation] = slot
        return slot

    def observe(self, operation: str, seconds: float) -> None:
        """Record one duration. ``seconds`` must be finite and not negative."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"duration must be a finite number >= 0, got {seconds!r}")
        slot = self._slot(operation)
        slot.samples.append(float(seconds))
        slot.count += 1

    @contextmanager
    def timer(self, operation: str) -> Iterator[None]:
        """Time the block on the injected clock's monotonic time.

        The duration is recorded whether the block returns or raises (including
        cancellation): a slow failure is still a slow call.
        """
        start = self._clock.monotonic()
        try:
            yield
        finally:
            self.observe(operation, max(0.0, self._clock.monotonic() - start))

    def operations(self) -> tuple[str, ...]:
        """Tracked operation names, sorted."""
        return tuple(sorted(self._ops))

    def snapshot(self, operation: str) -> LatencySnapshot | None:
        """Statistics for one operation, or ``None`` if it has no samples."""
        slot = self._ops.get(operation)
        if slot is None or not slot.samples:
            return None
        ordered = sorted(slot.samples)
        return LatencySnapshot(
            operation=operation,
            count=slot.count,
            window_count=len(ordered),
            average=math.fsum(ordered) / len(ordered),
            minimum=ordered[0],
            maximum=ordered[-1],
            p50=nearest_rank(ordered, 0.50),
            p95=nearest_rank(ordered, 0.95),
            p99=nearest_rank(ordered, 0.99),
        )

    def snapshots(self) -> tuple[LatencySnapshot, ...]:
        """Statistics for every operation with samples, sorted by name."""
        result = []
        for name in self.operations():
            snap = self.snapshot(name)
            if snap is not None:
                result.append(snap)
        return tuple(result)

    def reset(self) -> None:
        """Forget every operation and sample."""
        self._ops.clear()
        self._named = 0

