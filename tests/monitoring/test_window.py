"""BucketedCounter and ThroughputTracker: clock-driven windows with FakeClock."""

from __future__ import annotations

import pytest

from aureond.clock import FakeClock
from aureond.errors import ConfigError
from aureond.monitoring.throughput import ThroughputSnapshot, ThroughputTracker
from aureond.monitoring.window import BucketedCounter, validate_window


def test_old_counts_fall_out_of_the_window() -> None:
    clock = FakeClock(start=1_000.0)
    counter = BucketedCounter(clock, fields=2, window_seconds=10.0, bucket_seconds=1.0)
    counter.add(0, 5)
    clock.advance(5.0)
    counter.add(1, 2)
    assert counter.totals() == (5, 2)
    clock.advance(4.999)          # first bucket is 9 buckets old: still in
    assert counter.totals() == (5, 2)
    clock.advance(0.001)          # 10 buckets old: out
    assert counter.totals() == (0, 2)
    clock.advance(5.0)
    assert counter.totals() == (0, 0)


def test_a_reused_slot_is_cleared() -> None:
    clock = FakeClock(start=0.0)
    counter = BucketedCounter(clock, fields=1, window_seconds=3.0, bucket_seconds=1.0)
    counter.add(0, 7)
    clock.advance(3.0)            # same slot, next lap
    counter.add(0, 1)
    assert counter.totals() == (1,)


def test_a_long_gap_empties_the_window() -> None:
    clock = FakeClock()
    counter = BucketedCounter(clock, fields=1, window_seconds=60.0)
    for _ in range(120):
        clock.advance(0.5)
        counter.add(0)
    # the last add is at 1060.0: buckets 1001..1060 are live, so 1000.5 fell out
    assert counter.totals() == (119,)
    clock.advance(1_000_000.0)
    assert counter.totals() == (0,)


def test_clear_and_field_range() -> None:
    counter = BucketedCounter(FakeClock(), fields=1, window_seconds=5.0)
    counter.add(0, 3)
    counter.clear()
    assert counter.totals() == (0,)
    with pytest.raises(IndexError):
        counter.add(1)


@pytest.mark.parametrize(("window", "bucket", "field"), [
    (60.0, 0.0, "bucket_seconds"),
    (60.0, -1.0, "bucket_seconds"),
    (0.5, 1.0, "window_seconds"),
    (10.5, 1.0, "window_seconds"),
    (100_000.0, 1.0, "window_seconds"),
])
def test_bad_window_names_the_field(window: float, bucket: float, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_window(window, bucket)
    assert info.value.field == field


def test_fractional_buckets() -> None:
    assert validate_window(1.0, 0.1) == 10


def test_throughput_overall_and_windowed() -> None:
    clock = FakeClock(start=0.0)
    tracker = ThroughputTracker(clock, "headers", window_seconds=10.0)
    assert tracker.overall_rate() == 0.0
    assert tracker.window_rate() == 0.0
    for _ in range(20):           # 2000 per second for 20 s
        tracker.record(2000)
        clock.advance(1.0)
    assert tracker.total == 40_000
    assert tracker.overall_rate() == pytest.approx(2000.0)
    # live buckets 11..20 at t=20.0: 9 full seconds (11..19) and an empty one just begun
    assert tracker.window_count() == 18_000
    assert tracker.window_rate() == pytest.approx(2000.0)
    clock.advance(0.5)
    tracker.record(1000)
    assert tracker.window_rate() == pytest.approx(19_000 / 9.5)
    clock.advance(30.0)
    assert tracker.window_rate() == 0.0
    assert tracker.overall_rate() == pytest.approx(41_000 / 50.5)


def test_throughput_window_shorter_than_uptime_uses_uptime() -> None:
    clock = FakeClock(start=100.0)
    tracker = ThroughputTracker(clock, window_seconds=60.0)
    clock.advance(4.0)
    tracker.record(8)
    assert tracker.window_rate() == pytest.approx(2.0)


def test_throughput_first_events_are_rated_over_one_bucket() -> None:
    tracker = ThroughputTracker(FakeClock(start=0.0), window_seconds=60.0)
    tracker.record(5)
    assert tracker.window_rate() == 5.0


def test_throughput_refuses_negative_and_resets() -> None:
    clock = FakeClock()
    tracker = ThroughputTracker(clock)
    with pytest.raises(ValueError, match="negative"):
        tracker.record(-1)
    tracker.record(3)
    clock.advance(1.0)
    tracker.reset()
    assert tracker.total == 0
    assert tracker.window_count() == 0


def test_throughput_snapshot_round_trip() -> None:
    clock = FakeClock()
    tracker = ThroughputTracker(clock, "proofs")
    tracker.record(3)
    clock.advance(2.0)
    snap = tracker.snapshot()
    assert snap.name == "proofs"
    assert ThroughputSnapshot.from_dict(snap.to_dict()) == snap
