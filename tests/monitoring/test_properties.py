"""Hypothesis: any run of successes, errors and clock steps keeps the rates coherent."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from aureond.clock import FakeClock
from aureond.monitoring.checks import error_rate_provider, judged_error_rate
from aureond.monitoring.error_rate import ErrorRateTracker
from aureond.monitoring.health import ErrorRatePolicy, HealthStatus

EVENTS = st.lists(
    st.tuples(st.booleans(),                                  # True = error
              st.sampled_from(["timeout", "protocol", "eof"]),
              st.floats(min_value=0.0, max_value=20.0, allow_nan=False)),  # clock step
    max_size=300,
)


def expected_status(errors: int, total: int, policy: ErrorRatePolicy) -> HealthStatus:
    """The thresholds restated in exact integer arithmetic (5 % and 10 %)."""
    if total < policy.min_samples:
        return HealthStatus.HEALTHY
    if errors * 100 > 10 * total:
        return HealthStatus.UNHEALTHY
    if errors * 100 >= 5 * total:
        return HealthStatus.DEGRADED
    return HealthStatus.HEALTHY


@settings(max_examples=300, deadline=None)
@given(events=EVENTS, min_samples=st.integers(min_value=0, max_value=40))
def test_rates_and_status_stay_coherent(events: list[tuple[bool, str, float]],
                                        min_samples: int) -> None:
    clock = FakeClock(start=0.0)
    tracker = ErrorRateTracker(clock, window_seconds=30.0, bucket_seconds=1.0)
    policy = ErrorRatePolicy(min_samples=min_samples)
    provider = error_rate_provider(tracker, policy)
    history: list[tuple[float, bool]] = []
    for is_error, kind, step in events:
        clock.advance(step)
        if is_error:
            tracker.record_error(kind)
        else:
            tracker.record_success()
        history.append((clock.monotonic(), is_error))

        for rates, total in ((tracker, tracker.total), (tracker.window(), tracker.window().total)):
            assert 0.0 <= rates.error_rate <= 1.0
            assert 0.0 <= rates.success_rate <= 1.0
            if total:
                assert abs(rates.success_rate + rates.error_rate - 1.0) < 1e-12

        # the window holds exactly the events of the last 30 one-second buckets
        current = int(clock.monotonic() // 1.0)
        live = [err for when, err in history if int(when // 1.0) > current - 30]
        window = tracker.window()
        assert (window.errors, window.total) == (sum(live), len(live))

        check = provider()
        assert check.status is expected_status(window.errors, window.total, policy)
        judged = window.total >= policy.min_samples
        assert check.observed_value == (window.error_rate if judged else None)
        ratio = judged_error_rate(tracker, policy)
        assert ratio == window.error_rate if judged else math.isnan(ratio)

    assert tracker.total == len(events)
    assert sum(count for _, count in tracker.breakdown()) == tracker.errors
