"""The standard component checks: sync, peers, store, error rate, event-loop lag."""

from __future__ import annotations

import pytest

from aureond.clock import FakeClock
from aureond.errors import ConfigError
from aureond.monitoring.checks import (
    evaluate_error_rate,
    evaluate_loop_lag,
    evaluate_peers,
    evaluate_store,
    evaluate_sync,
    loop_lag_provider,
)
from aureond.monitoring.health import ErrorRatePolicy, HealthStatus
from aureond.monitoring.loop_lag import LoopLagMonitor

H, D, U = HealthStatus.HEALTHY, HealthStatus.DEGRADED, HealthStatus.UNHEALTHY


@pytest.mark.parametrize(("tip", "best", "age", "status", "value"), [
    (800_000, 800_000, 60.0, H, 0),
    (800_000, 800_001, 60.0, H, 1),       # one block behind is still synced
    (800_000, 800_002, 60.0, D, 2),       # syncing
    (0, 800_000, 10e8, D, 800_000),       # initial sync: warn, never fail
    (800_005, 800_000, 60.0, H, 0),       # ahead of the peers we heard from
    (800_000, 800_000, 7_201.0, D, 0),    # stale tip
    (800_000, None, 60.0, D, None),       # no peer height yet
])
def test_sync(tip: int, best: int | None, age: float, status: HealthStatus,
              value: int | None) -> None:
    check = evaluate_sync(tip, best, age)
    assert check.status is status
    assert check.observed_value == value
    assert check.observed_unit == "blocks"
    assert (check.output == "") == (status is H)


@pytest.mark.parametrize(("connected", "minimum", "status"), [
    (0, 1, U), (1, 1, H), (8, 1, H), (1, 2, D), (2, 2, H), (-1, 1, U),
])
def test_peers(connected: int, minimum: int, status: HealthStatus) -> None:
    check = evaluate_peers(connected, minimum=minimum)
    assert check.status is status
    assert check.observed_unit == "connections"


def test_store() -> None:
    assert evaluate_store(True).status is H
    failed = evaluate_store(False, "disk full")
    assert failed.status is U
    assert failed.output == "disk full"
    assert evaluate_store(False).output


def test_error_rate_output_says_why() -> None:
    policy = ErrorRatePolicy()
    few = evaluate_error_rate(1.0, 3, policy)
    assert (few.status, few.output, few.observed_value) == (H, "", None)  # not judged
    check = evaluate_error_rate(0.25, 40, policy)
    assert check.status is U
    assert check.observed_value == 0.25
    assert check.observed_unit == "ratio"
    assert "25.00% of 40" in check.output


@pytest.mark.parametrize(("lag", "status"), [
    (0.0, H), (0.0999, H), (0.1, D), (0.999, D), (1.0, U), (30.0, U),
])
def test_loop_lag(lag: float, status: HealthStatus) -> None:
    check = evaluate_loop_lag(lag)
    assert check.status is status
    assert check.observed_unit == "s"


def test_loop_lag_thresholds_are_checked() -> None:
    with pytest.raises(ConfigError):
        evaluate_loop_lag(0.0, warn_at=2.0, fail_at=1.0)
    with pytest.raises(ConfigError):
        loop_lag_provider(LoopLagMonitor(FakeClock()), warn_at=0.0)


def test_loop_lag_provider_reads_the_recent_max() -> None:
    monitor = LoopLagMonitor(FakeClock(), recent=2)
    provide = loop_lag_provider(monitor)
    assert provide().status is H
    monitor.record(1.5)
    monitor.record(0.0)
    assert provide().status is U
    monitor.record(0.0)           # the spike left the recent window
    assert provide().status is H
    assert monitor.max == 1.5
