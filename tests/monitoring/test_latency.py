"""LatencyTracker: nearest-rank quantiles, the ring window, operation bounds, timer."""

from __future__ import annotations

import math

import pytest

from aureond.clock import FakeClock
from aureond.errors import ConfigError
from aureond.monitoring.latency import (
    OTHER_OPERATION,
    LatencySnapshot,
    LatencyTracker,
    nearest_rank,
)


def reference_quantile(samples: list[float], q: float) -> float:
    """Nearest rank, written from the definition: the smallest sample with at least
    q * n samples at or below it."""
    ordered = sorted(samples)
    n = len(ordered)
    for value in ordered:
        at_or_below = sum(1 for x in ordered if x <= value)
        if at_or_below >= q * n:
            return value
    return ordered[-1]


QUANTILE_CASES = [
    ("single", [0.5]),
    ("two", [2.0, 1.0]),
    ("ten ascending", [float(i) for i in range(1, 11)]),
    ("hundred reversed", [float(i) for i in range(100, 0, -1)]),
    ("hundred and one", [i / 7 for i in range(101)]),
    ("duplicates", [1.0, 1.0, 1.0, 5.0, 5.0, 9.0]),
    ("skewed tail", [0.01] * 97 + [1.0, 2.0, 3.0]),
    ("thousand", [((i * 7919) % 1000) / 1000 for i in range(1000)]),
]


@pytest.mark.parametrize(("name", "samples"), QUANTILE_CASES, ids=[c[0] for c in QUANTILE_CASES])
def test_snapshot_matches_reference(name: str, samples: list[float]) -> None:
    tracker = LatencyTracker(FakeClock(), window=len(samples))
    for value in samples:
        tracker.observe("op", value)
    snap = tracker.snapshot("op")
    assert snap is not None
    assert snap.p50 == reference_quantile(samples, 0.50)
    assert snap.p95 == reference_quantile(samples, 0.95)
    assert snap.p99 == reference_quantile(samples, 0.99)
    assert snap.minimum == min(samples)
    assert snap.maximum == max(samples)
    assert snap.average == pytest.approx(sum(samples) / len(samples))
    assert snap.count == snap.window_count == len(samples)


@pytest.mark.parametrize(("q", "expected"), [
    (0.0, 1.0), (0.01, 1.0), (0.1, 1.0), (0.11, 2.0), (0.5, 5.0), (0.51, 6.0),
    (0.95, 10.0), (1.0, 10.0),
])
def test_nearest_rank_table(q: float, expected: float) -> None:
    assert nearest_rank([float(i) for i in range(1, 11)], q) == expected


@pytest.mark.parametrize("q", [-0.1, 1.01, math.nan])
def test_nearest_rank_refuses_bad_quantile(q: float) -> None:
    with pytest.raises(ValueError, match="quantile"):
        nearest_rank([1.0], q)


def test_nearest_rank_refuses_empty() -> None:
    with pytest.raises(ValueError, match="no samples"):
        nearest_rank([], 0.5)


def test_window_keeps_only_recent_samples() -> None:
    tracker = LatencyTracker(FakeClock(), window=4)
    for value in (100.0, 100.0, 1.0, 2.0, 3.0, 4.0):
        tracker.observe("op", value)
    snap = tracker.snapshot("op")
    assert snap is not None
    assert snap.count == 6
    assert snap.window_count == 4
    assert snap.maximum == 4.0
    assert snap.average == 2.5


def test_operations_beyond_the_limit_go_to_other() -> None:
    tracker = LatencyTracker(FakeClock(), max_operations=2)
    for name in ("a", "b", "c", "d"):
        tracker.observe(name, 0.1)
    tracker.observe("a", 0.2)
    assert tracker.operations() == ("a", "b", OTHER_OPERATION)
    other = tracker.snapshot(OTHER_OPERATION)
    assert other is not None
    assert other.count == 2
    a = tracker.snapshot("a")
    assert a is not None
    assert a.count == 2


def test_explicit_other_does_not_use_up_the_limit() -> None:
    tracker = LatencyTracker(FakeClock(), max_operations=1)
    tracker.observe(OTHER_OPERATION, 0.1)
    tracker.observe("a", 0.1)
    assert tracker.operations() == ("a", OTHER_OPERATION)


@pytest.mark.parametrize("bad", [-0.001, math.inf, math.nan])
def test_observe_refuses_bad_durations(bad: float) -> None:
    with pytest.raises(ValueError, match="duration"):
        LatencyTracker(FakeClock()).observe("op", bad)


def test_observe_refuses_empty_name() -> None:
    with pytest.raises(ValueError, match="empty"):
        LatencyTracker(FakeClock()).observe("", 0.1)


@pytest.mark.parametrize(("kwargs", "field"), [({"window": 0}, "window"),
                                               ({"max_operations": 0}, "max_operations")])
def test_bad_configuration_names_the_field(kwargs: dict[str, int], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        LatencyTracker(FakeClock(), **kwargs)
    assert info.value.field == field


def test_timer_uses_the_injected_clock() -> None:
    clock = FakeClock()
    tracker = LatencyTracker(clock)
    with tracker.timer("sync"):
        clock.advance(0.25)
    snap = tracker.snapshot("sync")
    assert snap is not None
    assert snap.maximum == 0.25


def test_timer_records_when_the_block_raises() -> None:
    clock = FakeClock()
    tracker = LatencyTracker(clock)

    def slow_failure() -> None:
        with tracker.timer("sync"):
            clock.advance(1.5)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        slow_failure()
    snap = tracker.snapshot("sync")
    assert snap is not None
    assert snap.maximum == 1.5


def test_unknown_operation_and_reset() -> None:
    tracker = LatencyTracker(FakeClock())
    assert tracker.snapshot("nothing") is None
    tracker.observe("op", 0.1)
    tracker.reset()
    assert tracker.snapshots() == ()


def test_snapshot_dict_round_trip() -> None:
    tracker = LatencyTracker(FakeClock())
    for value in (0.1, 0.2, 0.3):
        tracker.observe("op", value)
    snap = tracker.snapshot("op")
    assert snap is not None
    assert LatencySnapshot.from_dict(snap.to_dict()) == snap
