"""The alert and recording rules: every required alert, labelled, documented, tested.

promtool checks syntax and runs the unit tests (scripts/check-deploy); these tests
check what promtool cannot: the set of alerts, their metadata, runbook anchors into
docs/operations.md, and that the promtool tests cover each alert both ways.
"""

from __future__ import annotations

import re
import tomllib

import pytest

from aureond.monitoring.health import DEFAULT_DEGRADED_AT, DEFAULT_UNHEALTHY_ABOVE
from tests.deploy.contract import PROMETHEUS_SERIES, is_design_series
from tests.deploy.parsing import (
    DEPLOY,
    ROOT,
    alert_blocks,
    alert_test_cases,
    markdown_anchors,
    promql_metric_names,
    recorded_names,
    rule_exprs,
)

PROM = DEPLOY / "prometheus"
ALERTS = alert_blocks((PROM / "alert_rules.yml").read_text())
RECORDING_TEXT = (PROM / "recording_rules.yml").read_text()
RECORDED = recorded_names(RECORDING_TEXT)
CASES = [case for path in sorted((PROM / "tests").glob("*.yml"))
         for case in alert_test_cases(path.read_text())]
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()

REQUIRED = (
    "AureondDown",
    "AureondSyncStalled",
    "AureondTipStale",
    "AureondBehindPeers",
    "AureondNoPeers",
    "AureondErrorRatioWarning",
    "AureondErrorRatioCritical",
    "AureondCircuitOpenTooLong",
    "AureondDeepReorg",
    "AureondStoreErrors",
    "AureondClockOffset",
    "AureondHealthFailing",
)


def test_exactly_the_required_alerts() -> None:
    assert sorted(ALERTS) == sorted(REQUIRED)


def _field(block: str, name: str) -> str:
    match = re.search(rf"^\s*{name}:\s*(.*)$", block, re.M)
    assert match, f"no {name}"
    return match.group(1).strip().strip('"')


@pytest.mark.parametrize("alert", REQUIRED)
def test_alert_metadata(alert: str) -> None:
    block = ALERTS[alert]
    assert _field(block, "severity") in {"warning", "critical"}
    assert _field(block, "summary")
    assert re.search(r"^\s*description:", block, re.M)
    assert _field(block, "runbook_url") == f"docs/operations.md#{alert.lower()}"


@pytest.mark.parametrize("alert", REQUIRED)
def test_runbook_anchor_exists(alert: str) -> None:
    assert alert.lower() in markdown_anchors(OPERATIONS)


@pytest.mark.parametrize("alert", REQUIRED)
def test_promtool_tests_cover_firing_and_quiet(alert: str) -> None:
    cases = [c for c in CASES if c.alertname == alert]
    assert any(c.fires for c in cases), f"{alert}: no test where it fires"
    assert any(not c.fires for c in cases), f"{alert}: no test where it stays quiet"


RULE_EXPRS = rule_exprs((PROM / "alert_rules.yml").read_text()) + rule_exprs(RECORDING_TEXT)


@pytest.mark.parametrize("expr", RULE_EXPRS)
def test_rules_use_only_specified_metrics(expr: str) -> None:
    names = promql_metric_names(expr)
    assert names
    unknown = {n for n in names
               if not is_design_series(n) and n not in RECORDED and n not in PROMETHEUS_SERIES}
    assert not unknown, f"{expr!r} uses unspecified {sorted(unknown)}"


def test_error_ratio_alerts_match_the_health_policy() -> None:
    warning = rule_exprs(ALERTS["AureondErrorRatioWarning"])[0]
    critical = rule_exprs(ALERTS["AureondErrorRatioCritical"])[0]
    assert warning == (f"aureond_error_ratio >= {DEFAULT_DEGRADED_AT:.2f} and "
                       f"aureond_error_ratio <= {DEFAULT_UNHEALTHY_ABOVE:.2f}")
    assert critical == f"aureond_error_ratio > {DEFAULT_UNHEALTHY_ABOVE:.2f}"


def test_scrape_example_targets_the_default_listener() -> None:
    config = tomllib.loads((ROOT / "config" / "aureond.toml").read_text())
    text = (PROM / "prometheus.yml").read_text()
    assert f'targets: ["{config["http"]["listen"]}"]' in text
    assert "job_name: aureond" in text
    assert re.search(r"^\s*scrape_interval: 15s$", text, re.M)
    for rule_file in ("recording_rules.yml", "alert_rules.yml"):
        assert f"- {rule_file}" in text
