"""Event-loop lag: how late a timer wake-up runs.

:meth:`LoopLagMonitor.run` sleeps ``interval`` seconds on the injected clock, then
measures on its monotonic time how much longer than ``interval`` the sleep took. A
loop busy with blocking work wakes the monitor late, so the excess is the lag every
other task on the loop suffered too. The monitor keeps the last lag, the maximum since
start and the maximum over the last ``recent`` samples (what health looks at, so one
hiccup an hour ago does not keep the node degraded).

``run()`` loops until cancelled, or for ``iterations`` samples when given; it never
swallows cancellation.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from aureond.clock import Clock
from aureond.errors import ConfigError

__all__ = ["LoopLagMonitor", "LoopLagSnapshot"]


@dataclass(frozen=True, slots=True)
class LoopLagSnapshot:
    """Lag figures in seconds; all 0.0 before the first sample."""

    samples: int
    last: float
    recent_max: float
    max: float
    interval: float


class LoopLagMonitor:
    """Samples event-loop lag every ``interval`` seconds (see the module doc)."""

    def __init__(self, clock: Clock, *, interval: float = 0.5, recent: int = 120,
                 on_sample: Callable[[float], None] | None = None) -> None:
        if not math.isfinite(interval) or interval <= 0:
            raise ConfigError("interval", f"must be a positive number of seconds, got {interval!r}")
        if recent < 1:
            raise ConfigError("recent", f"must be at least 1 sample, got {recent}")
        self._clock = clock
        self._interval = float(interval)
        self._on_sample = on_sample
        self._recent: deque[float] = deque(maxlen=recent)
        self._samples = 0
        self._last = 0.0
        self._max = 0.0

    @property
    def interval(self) -> float:
        return self._interval

    @property
    def last(self) -> float:
        return self._last

    @property
    def max(self) -> float:
        return self._max

    @property
    def recent_max(self) -> float:
        return max(self._recent, default=0.0)

    @property
    def samples(self) -> int:
        return self._samples

    def record(self, lag: float) -> None:
        """Record one lag measurement (seconds, >= 0)."""
        lag = max(0.0, lag)
        self._samples += 1
        self._last = lag
        self._max = max(self._max, lag)
        self._recent.append(lag)
        if self._on_sample is not None:
            self._on_sample(lag)

    async def run(self, iterations: int | None = None) -> None:
        """Sample until cancelled, or ``iterations`` times when given."""
        if iterations is not None and iterations < 0:
            raise ValueError(f"iterations must be >= 0, got {iterations}")
        done = 0
        while iterations is None or done < iterations:
            start = self._clock.monotonic()
            await self._clock.sleep(self._interval)
            self.record(self._clock.monotonic() - start - self._interval)
            done += 1

    def snapshot(self) -> LoopLagSnapshot:
        return LoopLagSnapshot(samples=self._samples, last=self._last,
                               recent_max=self.recent_max, max=self._max,
                               interval=self._interval)
