"""ErrorRateTracker: lifetime counts, per-type breakdown, and the sliding window."""

from __future__ import annotations

import pytest

from aureond.clock import FakeClock
from aureond.errors import ConfigError
from aureond.monitoring.error_rate import OTHER_ERROR_TYPE, ErrorRateSnapshot, ErrorRateTracker


def test_empty_tracker() -> None:
    tracker = ErrorRateTracker(FakeClock())
    assert tracker.total == 0
    assert tracker.error_rate == 0.0
    assert tracker.success_rate == 0.0
    assert tracker.most_common_type is None
    assert tracker.last_error_wall is None
    assert tracker.window().total == 0


def test_totals_rates_and_breakdown() -> None:
    clock = FakeClock(start=10.0, wall_offset=1_700_000_000.0)
    tracker = ErrorRateTracker(clock)
    for _ in range(6):
        tracker.record_success()
    tracker.record_error("timeout")
    tracker.record_error("protocol")
    clock.advance(2.0)
    tracker.record_error("timeout")
    tracker.record_error("eof")
    assert (tracker.successes, tracker.errors, tracker.total) == (6, 4, 10)
    assert tracker.error_rate == 0.4
    assert tracker.success_rate == 0.6
    assert tracker.breakdown() == (("timeout", 2), ("eof", 1), ("protocol", 1))
    assert tracker.most_common_type == "timeout"
    assert tracker.last_error_wall == 1_700_000_012.0


def test_error_types_beyond_the_limit_are_other() -> None:
    tracker = ErrorRateTracker(FakeClock(), max_error_types=2)
    for name in ("a", "b", "c", "d", "a"):
        tracker.record_error(name)
    assert dict(tracker.breakdown()) == {"a": 2, "b": 1, OTHER_ERROR_TYPE: 2}


def test_empty_error_type_is_refused() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        ErrorRateTracker(FakeClock()).record_error("")


def test_window_forgets_old_samples_but_lifetime_does_not() -> None:
    clock = FakeClock(start=0.0)
    tracker = ErrorRateTracker(clock, window_seconds=60.0, bucket_seconds=1.0)
    for _ in range(10):
        tracker.record_error("timeout")
    clock.advance(30.0)
    for _ in range(30):
        tracker.record_success()
    window = tracker.window()
    assert (window.successes, window.errors) == (30, 10)
    assert window.error_rate == 0.25
    clock.advance(30.0)           # the errors' bucket (0) is now 60 buckets old
    window = tracker.window()
    assert (window.successes, window.errors) == (30, 0)
    assert window.error_rate == 0.0
    assert window.success_rate == 1.0
    assert tracker.error_rate == 10 / 40
    clock.advance(30.0)
    assert tracker.window().total == 0


def test_reset_clears_everything() -> None:
    tracker = ErrorRateTracker(FakeClock())
    tracker.record_error("x")
    tracker.record_success()
    tracker.reset()
    assert tracker.total == 0
    assert tracker.breakdown() == ()
    assert tracker.last_error_wall is None
    assert tracker.window().total == 0


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"max_error_types": 0}, "max_error_types"),
    ({"window_seconds": 0.0}, "window_seconds"),
    ({"bucket_seconds": -1.0}, "bucket_seconds"),
])
def test_bad_configuration(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        ErrorRateTracker(FakeClock(), **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_snapshot_round_trip() -> None:
    tracker = ErrorRateTracker(FakeClock())
    tracker.record_success()
    tracker.record_error("timeout")
    snap = tracker.snapshot()
    assert snap.most_common_type == "timeout"
    data = snap.to_dict()
    assert data["error_rate"] == 0.5
    assert data["window"]["errors"] == 1
    assert ErrorRateSnapshot.from_dict(data) == snap
