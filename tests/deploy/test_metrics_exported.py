"""Every metric the deployment files query is one the daemon really exports.

The metric objects are built on a fresh registry the way the daemon wires them
(NodeMetrics, ResilienceMetrics, ApiMetrics reporting into NodeMetrics) and their
family names are expanded to series names by type.
"""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from aureond.api.metrics import ApiMetrics
from aureond.monitoring.prometheus import NodeMetrics
from aureond.service.resilience_metrics import ResilienceMetrics
from tests.deploy.contract import DESIGN_SERIES, PROMETHEUS_SERIES
from tests.deploy.parsing import (
    DEPLOY,
    dashboard_exprs,
    load_json,
    promql_metric_names,
    recorded_names,
    rule_exprs,
)

_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("", "_count", "_sum"),
    "info": ("_info",),
    "gauge": ("",),
}

NOT_YET_EXPORTED: dict[str, str] = {}


def _exported() -> set[str]:
    registry = CollectorRegistry()
    node = NodeMetrics(registry, version="0.0.0", network="regtest")
    ResilienceMetrics(registry)
    ApiMetrics(registry, sink=node)
    names: set[str] = set()
    for family in registry.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES[family.type])
    return names


def _used() -> set[str]:
    prom = DEPLOY / "prometheus"
    recorded = recorded_names((prom / "recording_rules.yml").read_text())
    exprs = [expr for _, expr in dashboard_exprs(load_json(DEPLOY / "grafana" / "aureond.json"))]
    for name in ("alert_rules.yml", "recording_rules.yml"):
        exprs += rule_exprs((prom / name).read_text())
    used = set().union(*(promql_metric_names(expr) for expr in exprs))
    return {n for n in used if n not in recorded and n not in PROMETHEUS_SERIES}


EXPORTED = _exported()
USED = sorted(_used())


def _param(name: str) -> object:
    if name in NOT_YET_EXPORTED:
        return pytest.param(name, marks=pytest.mark.xfail(
            strict=True, reason=NOT_YET_EXPORTED[name]))
    return name


@pytest.mark.parametrize("name", [_param(n) for n in USED])
def test_used_metric_is_exported(name: str) -> None:
    assert name in EXPORTED


@pytest.mark.parametrize("name", [_param(n) for n in sorted(DESIGN_SERIES)])
def test_design_metric_is_exported(name: str) -> None:
    assert name in EXPORTED


def test_process_metrics_for_the_dashboard() -> None:
    assert {"process_resident_memory_bytes", "process_cpu_seconds_total",
            "python_gc_collections_total"} <= EXPORTED
