"""deploy/grafana/aureond.json: valid, laid out, and querying only specified metrics."""

from __future__ import annotations

import pytest

from tests.deploy.contract import PROMETHEUS_SERIES, is_design_series
from tests.deploy.parsing import (
    DEPLOY,
    dashboard_exprs,
    load_json,
    promql_metric_names,
    recorded_names,
)

DASHBOARD = DEPLOY / "grafana" / "aureond.json"
RECORDED = recorded_names((DEPLOY / "prometheus" / "recording_rules.yml").read_text())


def _panels() -> list[dict[str, object]]:
    found: list[dict[str, object]] = []

    def walk(panels: object) -> None:
        if isinstance(panels, list):
            for panel in panels:
                if isinstance(panel, dict):
                    found.append(panel)
                    walk(panel.get("panels"))

    walk(load_json(DASHBOARD).get("panels"))
    return found


def test_dashboard_is_a_dashboard() -> None:
    dashboard = load_json(DASHBOARD)
    assert dashboard["title"] == "aureond"
    assert dashboard["uid"]
    variables = dashboard["templating"]
    assert isinstance(variables, dict)
    names = {v["name"] for v in variables["list"]}
    assert {"datasource", "job", "instance"} <= names


def test_panel_ids_are_unique_and_fit_the_grid() -> None:
    panels = _panels()
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        grid = panel["gridPos"]
        assert isinstance(grid, dict)
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]


def test_every_query_panel_uses_the_datasource_variable() -> None:
    for panel in _panels():
        if panel.get("type") == "row":
            continue
        targets = panel.get("targets")
        assert isinstance(targets, list), panel["title"]
        assert targets, panel["title"]
        for target in targets:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            assert '$job' in target["expr"], panel["title"]
            assert '$instance' in target["expr"], panel["title"]


EXPRS = dashboard_exprs(load_json(DASHBOARD))


@pytest.mark.parametrize(("title", "expr"), EXPRS, ids=[f"{t}: {e[:40]}" for t, e in EXPRS])
def test_expressions_use_only_specified_metrics(title: str, expr: str) -> None:
    names = promql_metric_names(expr)
    assert names, f"{title}: no metric in {expr!r}"
    unknown = {n for n in names
               if not is_design_series(n) and n not in RECORDED and n not in PROMETHEUS_SERIES}
    assert not unknown, f"{title}: {expr!r} uses unspecified {sorted(unknown)}"


@pytest.mark.parametrize("needle", [
    "aureond_header_height", "aureond_best_peer_height", "aureond_headers_processed_total",
    "aureond_reorgs_total", "aureond_peers", "aureond_circuit_breaker_state",
    "aureond_error_ratio", "aureond_http_request_duration_seconds_bucket",
    "aureond_peer_request_duration_seconds_bucket", "process_resident_memory_bytes",
    "process_cpu_seconds_total",
])
def test_required_views_are_present(needle: str) -> None:
    assert any(needle in promql_metric_names(expr) for _, expr in EXPRS)


def test_error_ratio_panel_shows_the_health_thresholds() -> None:
    panel = next(p for p in _panels() if p.get("title") == "Error ratio"
                 and p.get("type") == "timeseries")
    defaults = panel["fieldConfig"]["defaults"]  # type: ignore[index]
    steps = [s["value"] for s in defaults["thresholds"]["steps"]]
    assert steps == [None, 0.05, 0.1]
    assert defaults["unit"] == "percentunit"


def test_latency_panels_show_three_quantiles() -> None:
    for title in ("HTTP latency", "Peer request latency"):
        panel = next(p for p in _panels() if p.get("title") == title)
        exprs = [t["expr"] for t in panel["targets"]]  # type: ignore[attr-defined]
        quantiles = sorted(e.split("(", 1)[1].split(",", 1)[0] for e in exprs)
        assert quantiles == ["0.5", "0.9", "0.99"], title
