"""Component health from consecutive outcomes; the registry's worst-wins status."""

from __future__ import annotations

import pytest

from aureond.clock import FakeClock
from aureond.errors import ConfigError
from aureond.resilience import (
    HealthChange,
    HealthChecker,
    HealthRegistry,
    HealthStatus,
    HealthThresholds,
)

OK, WARN, FAIL = HealthStatus.HEALTHY, HealthStatus.DEGRADED, HealthStatus.UNHEALTHY


@pytest.mark.parametrize(("thresholds", "outcomes", "expected"), [
    ((1, 3, 1), "", []),
    ((1, 3, 1), "f", [WARN]),
    ((1, 3, 1), "fff", [WARN, WARN, FAIL]),
    ((1, 3, 1), "fffs", [WARN, WARN, FAIL, OK]),          # one success resets
    ((2, 4, 1), "fsff", [OK, OK, OK, WARN]),             # the success broke the run
    ((1, 2, 3), "ffsss", [WARN, FAIL, WARN, WARN, OK]),    # steps down, then recovers
    ((1, 2, 3), "ffssfs", [WARN, FAIL, WARN, WARN, WARN, WARN]),
    ((1, 2, 2), "fss" "f", [WARN, WARN, OK, WARN]),
])
def test_status_table(thresholds: tuple[int, int, int], outcomes: str,
                      expected: list[HealthStatus]) -> None:
    checker = HealthChecker("store", FakeClock(), HealthThresholds(*thresholds))
    seen = [checker.record_success() if o == "s" else checker.record_failure()
            for o in outcomes]
    assert seen == expected


def test_changes_are_reported_once_each() -> None:
    clock = FakeClock()
    checker = HealthChecker("peers", clock)
    changes: list[HealthChange] = []
    checker.on_change(changes.append)
    for outcome in "fffffs":
        clock.advance(1.0)
        checker.record_success() if outcome == "s" else checker.record_failure("no peers")
    assert [(c.from_status, c.to_status, c.at) for c in changes] == [
        (OK, WARN, 1001.0), (WARN, FAIL, 1003.0), (FAIL, OK, 1006.0)]
    snapshot = checker.snapshot()
    assert snapshot.last_error == "no peers"
    assert snapshot.since == 1006.0


def test_last_error_from_an_exception() -> None:
    checker = HealthChecker("sync", FakeClock())
    checker.record_failure(TimeoutError("stale tip"))
    assert checker.snapshot().last_error == "TimeoutError: stale tip"


def test_registry_worst_wins() -> None:
    clock = FakeClock()
    registry = HealthRegistry()
    assert registry.overall() is OK
    a = registry.register(HealthChecker("a", clock))
    b = registry.register(HealthChecker("b", clock))
    assert registry.overall() is OK
    a.record_failure()
    assert registry.overall() is WARN
    for _ in range(3):
        b.record_failure()
    assert registry.overall() is FAIL
    b.record_success()
    assert registry.overall() is WARN
    assert {name: h.status for name, h in registry.snapshot().items()} == {"a": WARN, "b": OK}
    registry.unregister("a")
    assert registry.overall() is OK
    assert len(registry) == 1


def test_registry_refuses_duplicate_names() -> None:
    registry = HealthRegistry()
    registry.register(HealthChecker("a", FakeClock()))
    with pytest.raises(ValueError, match="already registered"):
        registry.register(HealthChecker("a", FakeClock()))


@pytest.mark.parametrize(("args", "field"), [
    ((0, 3, 1), "degraded_after"), ((3, 2, 1), "unhealthy_after"),
    ((1, 3, 0), "recovery_successes")])
def test_threshold_validation(args: tuple[int, int, int], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        HealthThresholds(*args)
    assert info.value.field == field
