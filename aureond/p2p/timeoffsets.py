"""Our clock against our peers': the median offset of their ``version`` timestamps.

Bitcoin Core (since v27) keeps the offsets of its last outbound peers only to warn the
operator; it no longer adjusts its clock by them, and neither do we: a wrong clock only
keeps far-future headers out for a while (they are asked for again), and a peer's time
decides nothing. ``TimeOffsets`` keeps the newest offset of each of the last
``MAX_SAMPLES`` peers (by address, so one peer reconnecting cannot outvote the others);
the daemon exports the median as ``aureond_clock_offset_seconds`` and ``/health`` warns
past ``WARN_OFFSET`` (``aureond.monitoring.checks.evaluate_clock``).
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["MAX_SAMPLES", "WARN_OFFSET", "TimeOffsets"]

MAX_SAMPLES = 50
"""Peers whose offsets are kept (Core keeps 50)."""
WARN_OFFSET = 10 * 60.0
"""Seconds of median offset from which ``/health`` warns (Core warns at 10 minutes)."""


class TimeOffsets:
    """Peers' clock offsets (their time minus ours, seconds) and their median."""

    def __init__(self, max_samples: int = MAX_SAMPLES) -> None:
        if max_samples < 1:
            raise ValueError("max_samples must be at least 1")
        self._max = max_samples
        self._by_peer: OrderedDict[str, float] = OrderedDict()

    def add(self, peer: str, offset: float) -> None:
        self._by_peer.pop(peer, None)
        self._by_peer[peer] = offset
        while len(self._by_peer) > self._max:
            self._by_peer.popitem(last=False)

    def __len__(self) -> int:
        return len(self._by_peer)

    def median(self) -> float | None:
        """The median offset (the mean of the middle two for an even count), or None."""
        values = sorted(self._by_peer.values())
        n = len(values)
        if not n:
            return None
        mid = n // 2
        return values[mid] if n % 2 else (values[mid - 1] + values[mid]) / 2
