"""Health statuses, the error-rate boundaries, the dashboard and its health+json."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from aureond.clock import FakeClock
from aureond.errors import ConfigError
from aureond.monitoring.checks import error_rate_provider
from aureond.monitoring.error_rate import ErrorRateTracker
from aureond.monitoring.health import (
    ComponentCheck,
    ErrorRatePolicy,
    HealthDashboard,
    HealthReport,
    HealthStatus,
    iso8601,
)

H, D, U = HealthStatus.HEALTHY, HealthStatus.DEGRADED, HealthStatus.UNHEALTHY


def test_status_maps_to_the_draft() -> None:
    assert (H.value, D.value, U.value) == ("pass", "warn", "fail")
    assert (H.label, D.label, U.label) == ("Healthy", "Degraded", "Unhealthy")
    assert (H.severity, D.severity, U.severity) == (0, 1, 2)


@pytest.mark.parametrize(("text", "status"), [
    ("pass", H), ("OK", H), ("up", H), ("warn", D), ("fail", U), ("Error", U), ("down", U),
])
def test_parse_accepts_the_draft_aliases(text: str, status: HealthStatus) -> None:
    assert HealthStatus.parse(text) is status


def test_parse_refuses_unknown() -> None:
    with pytest.raises(ValueError, match="unknown health status"):
        HealthStatus.parse("fine")


@pytest.mark.parametrize(("statuses", "worst"), [
    ((), H), ((H,), H), ((H, D), D), ((D, H, U, H), U), ((D, D), D),
])
def test_worst(statuses: tuple[HealthStatus, ...], worst: HealthStatus) -> None:
    assert HealthStatus.worst(statuses) is worst


# (errors, samples, expected): 4.99 %, 5 %, 10 %, 10.01 %, and below min samples.
BOUNDARY_CASES = [
    ("0 %", 0, 10_000, H),
    ("4.99 %", 499, 10_000, H),
    ("5 % of 20", 1, 20, D),
    ("5 %", 500, 10_000, D),
    ("7 %", 7, 100, D),
    ("10 %", 1_000, 10_000, D),
    ("10 % of 20", 2, 20, D),
    ("10.01 %", 1_001, 10_000, U),
    ("100 %", 20, 20, U),
    ("19 samples all failed", 19, 19, H),
    ("no samples", 0, 0, H),
]


@pytest.mark.parametrize(("name", "errors", "samples", "expected"), BOUNDARY_CASES,
                         ids=[case[0] for case in BOUNDARY_CASES])
def test_error_rate_boundaries(name: str, errors: int, samples: int,
                               expected: HealthStatus) -> None:
    policy = ErrorRatePolicy()
    rate = errors / samples if samples else 0.0
    assert policy.classify(rate, samples) is expected


@pytest.mark.parametrize(("name", "errors", "samples", "expected"), BOUNDARY_CASES,
                         ids=[case[0] for case in BOUNDARY_CASES])
def test_error_rate_boundaries_through_the_tracker(name: str, errors: int, samples: int,
                                                  expected: HealthStatus) -> None:
    tracker = ErrorRateTracker(FakeClock())
    for _ in range(errors):
        tracker.record_error("timeout")
    for _ in range(samples - errors):
        tracker.record_success()
    assert error_rate_provider(tracker)().status is expected


def test_min_samples_is_configurable() -> None:
    policy = ErrorRatePolicy(min_samples=5)
    assert policy.classify(1.0, 4) is H
    assert policy.classify(1.0, 5) is U


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"degraded_at": -0.1}, "degraded_at"),
    ({"degraded_at": 1.5}, "degraded_at"),
    ({"degraded_at": 0.2, "unhealthy_above": 0.1}, "unhealthy_above"),
    ({"min_samples": -1}, "min_samples"),
])
def test_bad_policy(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        ErrorRatePolicy(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def _dashboard(clock: FakeClock) -> HealthDashboard:
    board = HealthDashboard(clock, service_id="aureond-test", description="test node",
                            version="1.2.3")
    board.register("sync", "blocksBehind", lambda: ComponentCheck(H, 0, "blocks"))
    board.register("peers", "connections",
                   lambda: ComponentCheck(D, 1, "connections", "1 peer, want 2"))
    board.register("store", "writable", lambda: ComponentCheck(H, True, "boolean"),
                   component_type="datastore")
    return board


ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_health_json_shape() -> None:
    clock = FakeClock(start=0.0, wall_offset=1_700_000_000.0)
    body = _dashboard(clock).evaluate().to_health_json()
    assert set(body) == {"status", "version", "serviceId", "description", "checks", "output"}
    assert body["status"] == "warn"
    assert body["version"] == "1.2.3"
    assert body["serviceId"] == "aureond-test"
    assert body["output"] == "peers:connections: 1 peer, want 2"
    assert list(body["checks"]) == ["peers:connections", "store:writable", "sync:blocksBehind"]
    for entries in body["checks"].values():
        assert isinstance(entries, list)
        assert len(entries) == 1
        assert entries[0]["status"] in ("pass", "warn", "fail")
        assert ISO_Z.match(entries[0]["time"])
    sync = body["checks"]["sync:blocksBehind"][0]
    assert sync == {"componentType": "component", "status": "pass",
                    "time": "2023-11-14T22:13:20Z", "observedValue": 0,
                    "observedUnit": "blocks"}
    assert "output" not in sync          # the draft: omit output for pass
    assert body["checks"]["peers:connections"][0]["output"] == "1 peer, want 2"
    assert body["checks"]["store:writable"][0]["componentType"] == "datastore"
    json.dumps(body)                     # plain JSON all the way down


def test_all_pass_has_no_output_and_http_200() -> None:
    board = HealthDashboard(FakeClock())
    board.register("sync", "blocksBehind", lambda: ComponentCheck(H, 0, "blocks"))
    report = board.evaluate()
    assert report.status is H
    assert report.http_status == 200
    assert "output" not in report.to_health_json()


def test_overall_is_the_worst_component_and_fail_is_503() -> None:
    board = _dashboard(FakeClock())
    board.register("errors", "rate", lambda: ComponentCheck(U, 0.5, "ratio", "too many"))
    report = board.evaluate()
    assert report.status is U
    assert report.http_status == 503
    assert report.component_statuses() == {"sync": H, "peers": D, "store": H, "errors": U}


def test_no_checks_is_healthy() -> None:
    assert HealthDashboard(FakeClock()).evaluate().status is H


def test_a_raising_provider_reports_fail() -> None:
    board = HealthDashboard(FakeClock())

    def broken() -> ComponentCheck:
        raise KeyError("tip")

    board.register("store", "writable", broken)
    result = board.evaluate().results[0]
    assert result.check.status is U
    assert "KeyError" in result.check.output


def test_cancellation_in_a_provider_is_not_swallowed() -> None:
    board = HealthDashboard(FakeClock())

    def cancelled() -> ComponentCheck:
        raise asyncio.CancelledError

    board.register("store", "writable", cancelled)
    with pytest.raises(asyncio.CancelledError):
        board.evaluate()


@pytest.mark.parametrize(("component", "measurement"), [
    ("", "x"), ("a:b", "x"), ("a", ""), ("a", "x:y"), (" a", "x"),
])
def test_bad_names_are_refused(component: str, measurement: str) -> None:
    board = HealthDashboard(FakeClock())
    with pytest.raises(ConfigError):
        board.register(component, measurement, lambda: ComponentCheck(H))


def test_duplicate_key_is_refused_and_unregister() -> None:
    board = HealthDashboard(FakeClock())
    board.register("a", "x", lambda: ComponentCheck(H))
    with pytest.raises(ConfigError, match="already registered"):
        board.register("a", "x", lambda: ComponentCheck(H))
    board.unregister("a", "x")
    board.unregister("a", "x")
    assert board.keys() == ()


def test_health_json_round_trip() -> None:
    clock = FakeClock(start=0.0, wall_offset=1_700_000_000.0)
    report = _dashboard(clock).evaluate()
    again = HealthReport.from_health_json(json.loads(json.dumps(report.to_health_json())))
    assert again.results == report.results
    assert again.status is report.status


def test_iso8601() -> None:
    assert iso8601(0.0) == "1970-01-01T00:00:00Z"
    assert iso8601(1_700_000_000.75) == "2023-11-14T22:13:20Z"
