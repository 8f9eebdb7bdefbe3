"""Time and randomness as interfaces.

Everything that needs "now" or randomness takes a :class:`Clock` or a
:class:`RandomSource` as an argument. Only ``aureond.service`` constructs the real ones;
tests use :class:`FakeClock` (``advance()``) and a seeded :class:`SeededRandom`.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "RandomSource", "SeededRandom", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """A source of time. ``monotonic()`` for intervals, ``wall()`` for Unix time."""

    def monotonic(self) -> float: ...

    def wall(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that only moves when told to.

    ``sleep()`` does not block on real time: it records the wake-up time, and
    ``advance()`` wakes every sleeper whose time has come. ``autojump=True`` makes a
    sleep advance the clock by itself (like trio's ``MockClock(autojump_threshold=0)``),
    which keeps retry and timeout tests instant and deterministic.
    """

    def __init__(self, start: float = 1_000.0, wall_offset: float = 1_700_000_000.0,
                 *, autojump: bool = False) -> None:
        self._now = float(start)
        self._wall_offset = float(wall_offset)
        self._autojump = autojump
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now + self._wall_offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._now += seconds
        self._wake()

    def _wake(self) -> None:
        keep: list[tuple[float, asyncio.Future[None]]] = []
        for when, fut in self._sleepers:
            if when <= self._now:
                if not fut.done():
                    fut.set_result(None)
            else:
                keep.append((when, fut))
        self._sleepers = keep

    async def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.slept.append(seconds)
        if self._autojump:
            self._now += seconds
            await asyncio.sleep(0)
            return
        if seconds == 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._now + seconds, fut))
        await fut


@runtime_checkable
class RandomSource(Protocol):
    """A source of uniform random floats in [0, 1) and random bytes."""

    def random(self) -> float: ...

    def randbytes(self, n: int) -> bytes: ...


class SeededRandom:
    """A deterministic random source (tests, simulations, reproducible jitter)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)  # noqa: S311 - jitter, not cryptography

    def random(self) -> float:
        return self._rng.random()

    def randbytes(self, n: int) -> bytes:
        return self._rng.randbytes(n)
