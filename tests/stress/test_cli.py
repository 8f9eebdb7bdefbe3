"""``aureond stress`` through the CLI entry point, at the tiny scale (seconds in all)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aureond.cli import main

SCENARIO_KEYS = {"scenario", "passed", "problems", "operations", "failures", "success_rate",
                 "duration_s", "busy_s", "ops_per_s", "memory", "latency", "faults",
                 "checks", "failure_notes", "details"}


def _run(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    out = tmp_path / "report.json"
    code = main(["stress", *args, "--scale", "tiny", "--no-trace", "--json", str(out)])
    return code, json.loads(out.read_text())


def test_report_has_the_documented_shape(tmp_path: Path, data_dir: Path) -> None:
    code, doc = _run(tmp_path, "header-chain", "merkle-tree", "mixed", "--data", str(data_dir))
    assert code == 0
    assert doc["scale"] == "tiny"
    assert doc["passed"] is True
    assert set(doc["machine"]) >= {"python", "cpus"}
    assert [s["scenario"] for s in doc["scenarios"]] == ["header-chain", "merkle-tree",
                                                         "mixed"]
    for s in doc["scenarios"]:
        assert set(s) == SCENARIO_KEYS
        assert s["success_rate"] == 1.0
        assert s["failures"] == 0
        assert s["operations"] > 0
        assert set(s["memory"]) == {"rss_start_mb", "rss_end_mb", "peak_rss_mb",
                                    "tracemalloc_peak_mb", "tracemalloc_operations"}
        assert set(s["latency"]) == {"unit", "count", "p50_ms", "p95_ms", "p99_ms", "max_ms"}
        assert s["latency"]["p50_ms"] <= s["latency"]["p95_ms"] <= s["latency"]["p99_ms"]
    headers = doc["scenarios"][0]
    # The real header runs were validated too, through the same chain and store.
    assert {"mainnet_000000-010236", "mainnet_822528-830592", "testnet3_000000-009999",
            "signet_000000-002015"} <= set(headers["details"])


def test_faulty_peers_are_all_accounted_for(tmp_path: Path) -> None:
    code, doc = _run(tmp_path, "concurrent-peers")
    assert code == 0
    (peers,) = doc["scenarios"]
    assert peers["faults"]["injected"] >= 3  # one bad-PoW, one garbage, one stall at least
    assert peers["faults"]["accounted"] == peers["faults"]["injected"]
    assert all(n >= 1 for n in peers["details"]["faults_by_kind"].values())


def test_api_load_answers_every_request_correctly(tmp_path: Path) -> None:
    code, doc = _run(tmp_path, "api-load")
    assert code == 0
    (api,) = doc["scenarios"]
    assert api["success_rate"] == 1.0
    assert set(api["details"]["by_endpoint"]) == {"health", "metrics", "proof"}
    assert api["details"]["by_endpoint"]["proof"]["requests"] > 0


@pytest.mark.parametrize("scenario", ["header-chain", "merkle-tree", "mixed",
                                      "concurrent-peers", "api-load"])
def test_an_injected_failure_makes_the_exit_non_zero(tmp_path: Path, scenario: str) -> None:
    code, doc = _run(tmp_path, scenario, "--inject-failure", scenario)
    assert code == 1
    (s,) = doc["scenarios"]
    assert s["passed"] is False
    assert s["failures"] > 0
    assert s["success_rate"] < 1.0
    assert s["failure_notes"]


def test_a_memory_leak_fails_the_memory_bar(tmp_path: Path) -> None:
    code, doc = _run(tmp_path, "memory", "--inject-failure", "memory")
    assert code == 1
    (mem,) = doc["scenarios"]
    growth = next(c for c in mem["checks"] if c["name"].startswith("RSS growth"))
    assert growth["passed"] is False
    assert growth["observed"] > growth["limit"]


def test_memory_without_a_leak_meets_the_bar(tmp_path: Path) -> None:
    code, doc = _run(tmp_path, "memory")
    assert code == 0
    (mem,) = doc["scenarios"]
    assert all(c["passed"] for c in mem["checks"])


def test_an_unknown_scenario_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stress", "no-such-scenario", "--scale", "tiny"]) == 2
    assert "unknown scenario" in capsys.readouterr().err
