"""The readable status report and its JSON form (``aureond status --json``)."""

from __future__ import annotations

import json

import pytest

from aureond.clock import FakeClock
from aureond.monitoring._decode import ReportFormatError
from aureond.monitoring.checks import (
    error_rate_provider,
    evaluate_peers,
    evaluate_store,
    evaluate_sync,
    loop_lag_provider,
)
from aureond.monitoring.error_rate import ErrorRateTracker
from aureond.monitoring.health import HealthDashboard
from aureond.monitoring.latency import LatencyTracker
from aureond.monitoring.loop_lag import LoopLagMonitor
from aureond.monitoring.report import StatusReport, build_status_report, render_text
from aureond.monitoring.throughput import ThroughputTracker


def _report(errors: int = 3) -> StatusReport:
    clock = FakeClock(start=0.0, wall_offset=1_700_000_000.0)
    latency = LatencyTracker(clock)
    tracker = ErrorRateTracker(clock)
    headers = ThroughputTracker(clock, "headers")
    requests = ThroughputTracker(clock, "http_requests")
    lag = LoopLagMonitor(clock)
    board = HealthDashboard(clock, version="0.1.0")
    board.register("sync", "blocksBehind", lambda: evaluate_sync(840_000, 840_010, 30.0))
    board.register("peers", "connections", lambda: evaluate_peers(4))
    board.register("store", "writable", lambda: evaluate_store(True), component_type="datastore")
    board.register("errors", "rate", error_rate_provider(tracker))
    board.register("event_loop", "lag", loop_lag_provider(lag))
    for i in range(100):
        latency.observe("getheaders", 0.010 + i / 1000)
        latency.observe("verify_proof", 0.002)
        tracker.record_success()
        headers.record(2000)
        requests.record()
    for _ in range(errors):
        tracker.record_error("timeout")
    tracker.record_error("protocol")
    lag.record(0.004)
    clock.advance(10.0)
    return build_status_report(board, latency, tracker, [headers, requests],
                               service="aureond", now_wall=clock.wall())


def test_text_contains_the_fields() -> None:
    text = render_text(_report())
    lines = text.splitlines()
    assert lines[0] == "aureond 0.1.0: Degraded (warn)"
    assert lines[1] == "as of 2023-11-14T22:13:30Z"
    for expected in (
        "sync:blocksBehind", "Degraded", "10 blocks", "syncing: tip 840000, best peer 840010",
        "peers:connections", "4 connections", "store:writable", "yes",
        "errors:rate", "3.85%", "event_loop:lag", "0.004 s",
        "getheaders", "verify_proof", "avg", "p95", "p99", "count",
        "timeout: 3", "protocol: 1", "window 60 s: 4 of 104",
        "headers", "20000.00", "http_requests",
    ):
        assert expected in text, expected
    getheaders = next(line for line in lines if line.strip().startswith("getheaders"))
    # avg 59.5 ms, p50 59 ms, p95 104 ms, p99 108 ms, max 109 ms, 100 samples
    assert getheaders.split() == ["getheaders", "59.5", "59.0", "104.0", "108.0", "109.0", "100"]
    assert all(len(line) <= 100 for line in lines)
    assert text.endswith("\n")


def test_unhealthy_report_and_empty_sections() -> None:
    clock = FakeClock()
    board = HealthDashboard(clock)
    report = build_status_report(board, LatencyTracker(clock), ErrorRateTracker(clock), [],
                                 service="aureond", now_wall=clock.wall())
    text = render_text(report)
    assert "Healthy (pass)" in text
    assert "(no checks registered)" in text
    assert "(no samples)" in text
    assert "(none)" in text
    assert render_text(_report(errors=30)).splitlines()[0].endswith("Unhealthy (fail)")


def test_json_round_trip() -> None:
    report = _report()
    data = report.to_dict()
    assert data["status"] == "warn"
    assert data["health"]["status"] == "warn"
    assert {item["operation"] for item in data["latency"]} == {"getheaders", "verify_proof"}
    assert data["errors"]["most_common_type"] == "timeout"
    wire = json.dumps(data, sort_keys=True)
    again = StatusReport.from_dict(json.loads(wire))
    assert again == report
    assert render_text(again) == render_text(report)
    assert json.dumps(again.to_dict(), sort_keys=True) == wire


@pytest.mark.parametrize(("path", "bad", "field"), [
    (("service",), 7, "service"),
    (("latency",), {}, "latency"),
    (("errors", "successes"), "many", "successes"),
    (("errors", "window"), None, "window"),
    (("throughput",), [{"name": "x"}], "total"),
    (("health", "checks"), {"nocolon": [{}]}, "checks.nocolon"),
    (("health", "checks", "sync:blocksBehind"), [{"status": "meh", "time": "x",
                                                  "componentType": "c"}],
     "checks.sync:blocksBehind"),
])
def test_malformed_json_names_the_field(path: tuple[str, ...], bad: object, field: str) -> None:
    data = _report().to_dict()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = bad
    with pytest.raises(ReportFormatError) as info:
        StatusReport.from_dict(data)
    assert info.value.field == field
