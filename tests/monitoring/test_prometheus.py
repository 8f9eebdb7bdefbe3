"""NodeMetrics on a fresh registry per test: drive events, read samples back, parse output."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as om_exposition
from prometheus_client.openmetrics import parser as om_parser
from prometheus_client.parser import text_string_to_metric_families

from aureond.clock import FakeClock
from aureond.monitoring.health import ComponentCheck, HealthDashboard, HealthStatus
from aureond.monitoring.prometheus import (
    DISCONNECT_REASONS,
    HEADER_REJECT_REASONS,
    OTHER_LABEL,
    BoundedLabel,
    NodeMetrics,
)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> NodeMetrics:
    return NodeMetrics(registry, version="0.1.0", network="regtest")


def generate_openmetrics(registry: CollectorRegistry) -> bytes:
    data: bytes = om_exposition.generate_latest(registry)  # type: ignore[no-untyped-call]
    return data


def parse_om(text: str) -> list[Metric]:
    return list(om_parser.text_string_to_metric_families(text))  # type: ignore[no-untyped-call]


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_build_info(registry: CollectorRegistry, metrics: NodeMetrics) -> None:
    assert value(registry, "aureond_build_info", version="0.1.0", network="regtest") == 1.0


def test_headers_and_tip(registry: CollectorRegistry, metrics: NodeMetrics) -> None:
    metrics.on_header_accepted(101, 1_700_000_000)
    metrics.on_header_accepted(102, 1_700_000_600)
    metrics.on_header_rejected("high-hash")
    metrics.on_header_rejected("some-new-rule")
    metrics.on_headers_processed("duplicate", 5)
    metrics.on_best_peer_height(150)
    assert value(registry, "aureond_header_height") == 102
    assert value(registry, "aureond_tip_timestamp_seconds") == 1_700_000_600
    assert value(registry, "aureond_best_peer_height") == 150
    assert value(registry, "aureond_headers_processed_total", result="accepted") == 2
    assert value(registry, "aureond_headers_processed_total", result="rejected") == 2
    assert value(registry, "aureond_headers_processed_total", result="duplicate") == 5
    assert value(registry, "aureond_header_rejects_total", reason="high-hash") == 1
    assert value(registry, "aureond_header_rejects_total", reason=OTHER_LABEL) == 1
    assert value(registry, "aureond_header_rejects_total", reason="some-new-rule") is None
    assert value(registry, "aureond_header_rejects_total", reason="bad-diffbits") == 0


def test_reorgs(registry: CollectorRegistry, metrics: NodeMetrics) -> None:
    metrics.on_reorg(1)
    metrics.on_reorg(3)
    metrics.on_tip_changed(99, 1_700_000_000)
    assert value(registry, "aureond_reorgs_total") == 2
    assert value(registry, "aureond_reorg_depth_count") == 2
    assert value(registry, "aureond_reorg_depth_sum") == 4
    assert value(registry, "aureond_reorg_depth_bucket", le="1.0") == 1
    assert value(registry, "aureond_reorg_depth_bucket", le="3.0") == 2
    assert value(registry, "aureond_header_height") == 99


def test_peers(registry: CollectorRegistry, metrics: NodeMetrics) -> None:
    metrics.set_peer_counts({"connected": 3, "connecting": 1, "10.0.0.1:8333": 2})
    assert value(registry, "aureond_peers", state="connected") == 3
    assert value(registry, "aureond_peers", state="connecting") == 1
    assert value(registry, "aureond_peers", state="handshaking") == 0
    assert value(registry, "aureond_peers", state=OTHER_LABEL) == 2
    metrics.set_peer_counts({"connected": 1})
    assert value(registry, "aureond_peers", state="connecting") == 0
    metrics.on_peer_disconnected("ping-timeout")
    metrics.on_peer_disconnected("203.0.113.9 misbehaved")
    metrics.on_peer_disconnected("invalid-headers:high-hash")
    metrics.on_peer_disconnected("invalid-headers:bad-diffbits")
    assert value(registry, "aureond_peer_disconnects_total", reason="ping-timeout") == 1
    assert value(registry, "aureond_peer_disconnects_total", reason="invalid-headers") == 2
    assert value(registry, "aureond_peer_disconnects_total", reason=OTHER_LABEL) == 1
    metrics.observe_peer_request("getheaders", 0.2)
    metrics.observe_peer_request("weird", 0.3)
    assert value(registry, "aureond_peer_request_duration_seconds_count",
                 message="getheaders") == 1
    assert value(registry, "aureond_peer_request_duration_seconds_sum",
                 message=OTHER_LABEL) == 0.3


def test_proofs_http_and_gauges(registry: CollectorRegistry, metrics: NodeMetrics) -> None:
    metrics.on_proof_verified("valid")
    metrics.on_proof_verified("invalid")
    metrics.on_proof_verified("deadbeef" * 8)
    assert value(registry, "aureond_proofs_verified_total", result="valid") == 1
    assert value(registry, "aureond_proofs_verified_total", result=OTHER_LABEL) == 1
    metrics.observe_http_request("/v1/headers/{height}", 0.002)
    assert value(registry, "aureond_http_request_duration_seconds_count",
                 route="/v1/headers/{height}") == 1
    metrics.set_error_ratio(0.07)
    metrics.set_event_loop_lag(0.012)
    assert value(registry, "aureond_error_ratio") == 0.07
    assert value(registry, "aureond_event_loop_lag_seconds") == 0.012
    ratio = [0.5]
    metrics.bind_error_ratio(lambda: ratio[0])
    ratio[0] = 0.25
    assert value(registry, "aureond_error_ratio") == 0.25


def test_health_status_from_a_report(registry: CollectorRegistry, metrics: NodeMetrics) -> None:
    board = HealthDashboard(FakeClock())
    board.register("sync", "blocksBehind", lambda: ComponentCheck(HealthStatus.HEALTHY))
    board.register("peers", "connections", lambda: ComponentCheck(HealthStatus.UNHEALTHY))
    board.register("peers", "inbound", lambda: ComponentCheck(HealthStatus.DEGRADED))
    board.register("errors", "rate", lambda: ComponentCheck(HealthStatus.DEGRADED))
    metrics.observe_health(board.evaluate())
    assert value(registry, "aureond_health_status", component="sync") == 0
    assert value(registry, "aureond_health_status", component="errors") == 1
    assert value(registry, "aureond_health_status", component="peers") == 2


def test_known_label_values_exist_at_zero(registry: CollectorRegistry,
                                          metrics: NodeMetrics) -> None:
    for reason in HEADER_REJECT_REASONS:
        assert value(registry, "aureond_header_rejects_total", reason=reason) == 0
    for reason in DISCONNECT_REASONS:
        assert value(registry, "aureond_peer_disconnects_total", reason=reason) == 0


def test_process_collectors_are_on_the_given_registry(registry: CollectorRegistry,
                                                      metrics: NodeMetrics) -> None:
    names = {family.name for family in registry.collect()}
    assert "python_gc_objects_collected" in names
    assert "python_info" in names
    bare = CollectorRegistry()
    NodeMetrics(bare, version="x", network="y", process_collectors=False)
    assert "python_info" not in {family.name for family in bare.collect()}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="process metrics need /proc")
def test_process_metrics_are_exported(registry: CollectorRegistry, metrics: NodeMetrics) -> None:
    assert (value(registry, "process_cpu_seconds_total") or 0.0) >= 0.0
    assert (value(registry, "process_resident_memory_bytes") or 0.0) > 0


def test_two_nodes_do_not_collide() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    NodeMetrics(first, version="1", network="mainnet").on_reorg(2)
    NodeMetrics(second, version="1", network="signet")
    assert first.get_sample_value("aureond_reorgs_total") == 1
    assert second.get_sample_value("aureond_reorgs_total") == 0


def _drive(metrics: NodeMetrics) -> None:
    metrics.on_header_accepted(5, 1_700_000_000)
    metrics.on_header_rejected("time-too-new")
    metrics.on_reorg(2)
    metrics.set_peer_counts({"connected": 2})
    metrics.observe_peer_request("ping", 0.05)
    metrics.set_health("sync", HealthStatus.DEGRADED)
    metrics.observe_http_request("/health", 0.001)


EXPECTED_FAMILIES = {
    "aureond_build", "aureond_header_height", "aureond_best_peer_height",
    "aureond_tip_timestamp_seconds", "aureond_headers_processed", "aureond_header_rejects",
    "aureond_reorgs", "aureond_reorg_depth", "aureond_peers", "aureond_peer_disconnects",
    "aureond_peer_request_duration_seconds", "aureond_proofs_verified",
    "aureond_health_status", "aureond_http_request_duration_seconds", "aureond_error_ratio",
    "aureond_event_loop_lag_seconds",
}


def test_text_format_parses(registry: CollectorRegistry, metrics: NodeMetrics) -> None:
    _drive(metrics)
    families = {f.name: f for f in text_string_to_metric_families(
        generate_latest(registry).decode())}
    # the classic text format has no info type: the info metric is the gauge *_info
    assert EXPECTED_FAMILIES - {"aureond_build"} <= families.keys()
    assert families["aureond_build_info"].type == "gauge"
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in families.values() for s in f.samples}
    assert samples[("aureond_header_rejects_total", (("reason", "time-too-new"),))] == 1
    assert samples[("aureond_health_status", (("component", "sync"),))] == 1


def test_openmetrics_format_parses(registry: CollectorRegistry, metrics: NodeMetrics) -> None:
    _drive(metrics)
    text = generate_openmetrics(registry).decode()
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in parse_om(text)}
    assert families.keys() >= EXPECTED_FAMILIES
    assert families["aureond_build"].type == "info"
    assert families["aureond_reorg_depth"].type == "histogram"
    assert families["aureond_headers_processed"].type == "counter"
    for name in ("aureond_http_request_duration_seconds", "aureond_peer_request_duration_seconds",
                 "aureond_tip_timestamp_seconds", "aureond_event_loop_lag_seconds"):
        assert families[name].unit == "seconds"


def test_no_label_value_looks_like_an_address_or_hash(registry: CollectorRegistry,
                                                     metrics: NodeMetrics) -> None:
    metrics.on_header_rejected("00" * 32)
    metrics.on_peer_disconnected("[2001:db8::1]:8333")
    metrics.on_proof_verified("ab" * 32)
    metrics.set_peer_counts({"198.51.100.7:8333": 1})
    for family in registry.collect():
        if family.name.startswith("aureond_"):
            for sample in family.samples:
                for label in sample.labels.values():
                    assert "00" * 16 not in label
                    assert "ab" * 16 not in label
                    assert ":8333" not in label


def test_bounded_label_cap() -> None:
    label = BoundedLabel(cap=2)
    assert [label(v) for v in ("a", "b", "c", "a", "", OTHER_LABEL)] == [
        "a", "b", OTHER_LABEL, "a", OTHER_LABEL, OTHER_LABEL]
    assert label.known == {"a", "b"}
    fixed = BoundedLabel({"x"})
    assert (fixed("x"), fixed("y")) == ("x", OTHER_LABEL)
