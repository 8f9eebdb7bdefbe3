"""LoopLagMonitor driven by FakeClock: lag is how late the wake-up ran."""

from __future__ import annotations

import asyncio

import pytest

from aureond.clock import FakeClock
from aureond.errors import ConfigError
from aureond.monitoring.loop_lag import LoopLagMonitor


async def _until_sleeping(clock: FakeClock, count: int) -> None:
    """Let the monitor task run until it has called sleep ``count`` times."""
    for _ in range(100):
        if len(clock.slept) >= count:
            return
        await asyncio.sleep(0)
    raise AssertionError("monitor never went to sleep")


async def test_measures_lateness() -> None:
    clock = FakeClock(start=0.0)
    seen: list[float] = []
    monitor = LoopLagMonitor(clock, interval=0.5, on_sample=seen.append)
    task = asyncio.create_task(monitor.run(iterations=3))

    await _until_sleeping(clock, 1)
    clock.advance(0.5)                    # on time
    await _until_sleeping(clock, 2)
    clock.advance(0.8)                    # 0.3 s late
    await _until_sleeping(clock, 3)
    clock.advance(0.6)                    # 0.1 s late
    await task

    assert seen == pytest.approx([0.0, 0.3, 0.1])
    snap = monitor.snapshot()
    assert snap.samples == 3
    assert snap.last == pytest.approx(0.1)
    assert snap.max == pytest.approx(0.3)
    assert snap.recent_max == pytest.approx(0.3)
    assert snap.interval == 0.5
    assert clock.slept == [0.5, 0.5, 0.5]


async def test_runs_until_cancelled_and_lets_cancellation_through() -> None:
    clock = FakeClock(start=0.0)
    monitor = LoopLagMonitor(clock, interval=1.0)
    task = asyncio.create_task(monitor.run())
    for n in range(1, 4):
        await _until_sleeping(clock, n)
        clock.advance(1.0)
    await _until_sleeping(clock, 4)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert monitor.samples == 3


async def test_autojump_clock_is_never_late() -> None:
    monitor = LoopLagMonitor(FakeClock(autojump=True), interval=0.25)
    await monitor.run(iterations=10)
    assert monitor.samples == 10
    assert monitor.max == 0.0


def test_empty_monitor_and_recent_window() -> None:
    monitor = LoopLagMonitor(FakeClock(), recent=3)
    assert (monitor.last, monitor.max, monitor.recent_max) == (0.0, 0.0, 0.0)
    for lag in (5.0, 1.0, 1.0, 1.0):
        monitor.record(lag)
    assert monitor.recent_max == 1.0
    assert monitor.max == 5.0
    monitor.record(-0.01)                 # a clock rounding below zero counts as 0
    assert monitor.last == 0.0


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"interval": 0.0}, "interval"), ({"interval": float("nan")}, "interval"),
    ({"recent": 0}, "recent"),
])
def test_bad_configuration(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        LoopLagMonitor(FakeClock(), **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


async def test_negative_iterations_refused() -> None:
    with pytest.raises(ValueError, match="iterations"):
        await LoopLagMonitor(FakeClock()).run(iterations=-1)
