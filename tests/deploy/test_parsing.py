"""The readers the deployment tests rely on, checked on small inputs."""

from __future__ import annotations

import pytest

from tests.deploy.parsing import (
    Unit,
    alert_blocks,
    alert_test_cases,
    dockerfile_instructions,
    dockerignore_includes,
    markdown_anchors,
    promql_metric_names,
    recorded_names,
)


@pytest.mark.parametrize(("expr", "names"), [
    ("up", {"up"}),
    ('up{job="aureond"} == 0', {"up"}),
    ("rate(aureond_reorgs_total[5m])", {"aureond_reorgs_total"}),
    ('sum by (instance, state) (aureond_peers{state="connected"})', {"aureond_peers"}),
    ("histogram_quantile(0.9, sum by (le) (rate(x_bucket[$__rate_interval])))", {"x_bucket"}),
    ("a - ignoring (le) b", {"a", "b"}),
    ("a > on (job, instance) group_left (network) b", {"a", "b"}),
    ("a unless on (job) b", {"a", "b"}),
    ("time() - a_seconds > 3600", {"a_seconds"}),
    ("a offset 5m", {"a"}),
    ("a > bool 1e3", {"a"}),
    ('a{route!~"/health.*", le=~"6|6\\\\.0"}', {"a"}),
    ("aureond:blocks_behind > 2", {"aureond:blocks_behind"}),
    ("max_over_time(a[10m:1m])", {"a"}),
    ("sum without (instance) (a) / 2", {"a"}),
    ("vector(1)", set()),
])
def test_promql_metric_names(expr: str, names: set[str]) -> None:
    assert promql_metric_names(expr) == names


def test_rule_items_are_split_per_rule() -> None:
    text = """groups:
  - name: g
    rules:
      - record: a:b
        expr: x
      - alert: First
        expr: up == 0
        labels:
          severity: critical
      - alert: Second
        expr: y > 1
"""
    blocks = alert_blocks(text)
    assert set(blocks) == {"First", "Second"}
    assert "severity: critical" in blocks["First"]
    assert "severity" not in blocks["Second"]
    assert recorded_names(text) == {"a:b"}


def test_alert_test_cases() -> None:
    text = """tests:
  - interval: 1m
    alert_rule_test:
      - eval_time: 3m   # pending
        alertname: A
        exp_alerts: []
      - eval_time: 5m
        alertname: A
        exp_alerts:
          - exp_labels:
              severity: critical
"""
    cases = alert_test_cases(text)
    assert [(c.alertname, c.eval_time, c.fires) for c in cases] == [
        ("A", "3m", False), ("A", "5m", True)]


@pytest.mark.parametrize(("heading", "anchor"), [
    ("### AureondDown", "aureonddown"),
    ("## Run under systemd", "run-under-systemd"),
    ("## Backup and restore (data dir)", "backup-and-restore-data-dir"),
])
def test_markdown_anchors(heading: str, anchor: str) -> None:
    assert markdown_anchors(f"text\n{heading}\nmore\n") == {anchor}


def test_unit_keeps_repeated_keys_in_order() -> None:
    unit = Unit.parse("[Service]\n# c\nA=1\nA=~2 3\n\n[Install]\nWantedBy=x\n")
    assert unit.values("Service", "A") == ["1", "~2 3"]
    assert unit.last("Install", "WantedBy") == "x"
    assert unit.last("Service", "B") is None


def test_unit_rejects_a_line_without_equals() -> None:
    with pytest.raises(ValueError, match="key=value"):
        Unit.parse("[Service]\nType notify\n")


def test_dockerfile_continuations_comments_and_stages() -> None:
    text = """# syntax=docker/dockerfile:1
ARG BASE=python:3.11-slim
FROM ${BASE} AS builder
RUN a \\
    # inner comment
    && b
FROM ${BASE}
ENTRYPOINT ["x", "run"]
"""
    found = [(i.keyword, i.args, i.stage) for i in dockerfile_instructions(text)]
    assert found == [
        ("ARG", "BASE=python:3.11-slim", -1),
        ("FROM", "${BASE} AS builder", 0),
        ("RUN", "a && b", 0),
        ("FROM", "${BASE}", 1),
        ("ENTRYPOINT", '["x", "run"]', 1),
    ]
    assert dockerfile_instructions(text)[-1].exec_form() == ["x", "run"]


@pytest.mark.parametrize(("path", "included"), [
    ("pyproject.toml", True),
    ("aureond/cli.py", True),
    ("aureond/chain/__pycache__/x.pyc", False),
    (".venv/bin/python", False),
    ("tests/test_x.py", False),
    ("config/other.toml", False),
    ("config/aureond.toml", True),
])
def test_dockerignore_allowlist(path: str, included: bool) -> None:
    patterns = ["*", "!pyproject.toml", "!aureond/", "!config/aureond.toml",
                "**/__pycache__"]
    assert dockerignore_includes(patterns, path) is included
