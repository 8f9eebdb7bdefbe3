"""Measuring instruments: process memory, latency percentiles, a terminal progress bar.

Memory comes from ``/proc/self/status`` (``VmRSS`` now, ``VmHWM`` the peak since the
last reset; writing ``5`` to ``/proc/self/clear_refs`` resets the peak, where the
kernel allows it) and from ``tracemalloc`` (the Python heap only). Latencies are
seconds in, milliseconds out. The progress bar writes to a stream only when that
stream is a terminal, so logs and CI output stay clean.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

__all__ = ["LatencySummary", "MemoryReading", "Progress", "collect_garbage", "read_memory",
           "reset_peak_rss", "summarize_latencies"]

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_KIB = 1024.0


@dataclass(frozen=True, slots=True)
class MemoryReading:
    """Resident set size now and its peak, in MiB (0.0 where /proc is not available)."""

    rss_mb: float
    peak_rss_mb: float


def read_memory() -> MemoryReading:
    try:
        text = _STATUS.read_text(encoding="ascii")
    except OSError:
        return MemoryReading(0.0, 0.0)
    fields: dict[str, float] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / _KIB
    rss = fields.get("VmRSS", 0.0)
    return MemoryReading(rss, max(rss, fields.get("VmHWM", 0.0)))


def reset_peak_rss() -> bool:
    """Reset ``VmHWM`` to the current RSS; False when the kernel does not allow it."""
    try:
        _CLEAR_REFS.write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def collect_garbage() -> None:
    """Full collection, twice (finalizers can free more on the second pass)."""
    gc.collect()
    gc.collect()


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Nearest-rank percentiles of a latency sample, in milliseconds."""

    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


def _rank(ordered: Sequence[float], q: float) -> float:
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summarize_latencies(seconds: Sequence[float]) -> LatencySummary | None:
    """Percentiles of ``seconds`` (None for an empty sample)."""
    if not seconds:
        return None
    ordered = sorted(seconds)
    return LatencySummary(len(ordered), _rank(ordered, 0.50) * 1e3,
                          _rank(ordered, 0.95) * 1e3, _rank(ordered, 0.99) * 1e3,
                          ordered[-1] * 1e3)


class Progress:
    """A one-line progress bar on ``stream``, drawn only when it is a terminal.

    Redraws at most every ``interval`` seconds; ``close()`` ends the line.
    """

    def __init__(self, stream: TextIO | None, label: str, total: int, *,
                 interval: float = 0.2, width: int = 30) -> None:
        self._stream = stream if stream is not None and stream.isatty() else None
        self._label = label
        self._total = max(1, total)
        self._interval = interval
        self._width = width
        self._last = 0.0
        self._done = 0

    @property
    def active(self) -> bool:
        return self._stream is not None

    def advance(self, n: int = 1) -> None:
        self._done += n
        if self._stream is None:
            return
        now = time.monotonic()
        if now - self._last >= self._interval or self._done >= self._total:
            self._last = now
            self._draw()

    def _draw(self) -> None:
        if self._stream is None:
            return
        frac = min(1.0, self._done / self._total)
        filled = int(frac * self._width)
        bar = "#" * filled + "-" * (self._width - filled)
        self._stream.write(f"\r{self._label:<18} [{bar}] {frac:6.1%} "
                           f"{self._done:,}/{self._total:,}")
        self._stream.flush()

    def close(self) -> None:
        if self._stream is not None:
            self._draw()
            self._stream.write("\n")
            self._stream.flush()
            self._stream = None
