"""The ``state-compression`` scenario at the tiny scale: numbers, real data, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aureond.cli import main
from aureond.stress.context import RunContext
from aureond.stress.report import Outcome
from aureond.stress.runner import SCENARIOS, run_one
from aureond.stress.scale import SCALES
from aureond.stress.state import load_real_blocks, run_state_compression

TINY = SCALES["tiny"]


def _run(tmp_path: Path, data: Path | None, *, inject: bool = False) -> Outcome:
    return run_state_compression(RunContext(TINY, tmp_path, data, None,
                                            inject_failure=inject))


def _expected_ops() -> int:
    # every snapshot built, every one verified, the restores, every proof
    return 2 * TINY.state_snapshots + TINY.state_restores + TINY.state_proofs


def test_synthetic_run_succeeds_and_reports_sane_numbers(tmp_path: Path) -> None:
    outcome = _run(tmp_path, None)
    d = outcome.details
    assert outcome.failures == 0, outcome.failure_notes
    assert outcome.operations == _expected_ops()
    assert "synthetic scripts only" in str(d["data"])
    assert d["real_script_accounts"] == 0
    assert d["accounts"] == TINY.state_accounts
    assert d["snapshots"] == TINY.state_snapshots == len(outcome.latencies)
    assert d["restores"] == TINY.state_restores
    assert d["proofs"] == TINY.state_proofs
    assert 0 < d["compressed_bytes_newest"] < d["raw_bytes_newest"]
    assert d["ratio_newest"] == pytest.approx(
        d["compressed_bytes_newest"] / d["raw_bytes_newest"])
    assert d["compressed_bytes_all"] >= TINY.state_snapshots * d["compressed_bytes_newest"] // 2
    assert 0 < d["snapshot_s_median"] <= d["snapshot_s_max"]
    assert d["verify_s_median"] > 0
    assert d["restore_s_median"] > 0
    assert d["proofs_generated_per_s"] > 0
    assert d["proofs_verified_per_s"] > 0
    # every synthetic block between two snapshots moved coins
    assert d["coins_final"] != d["coins_after_first_blocks"]
    assert outcome.busy_seconds is not None
    assert outcome.busy_seconds > 0
    assert len(outcome.summary) == 3
    assert not any((tmp_path / "state" / "snapshots").glob("*.tmp"))


def test_real_blocks_feed_the_first_accounts(tmp_path: Path, data_dir: Path) -> None:
    blocks, source = load_real_blocks(data_dir)
    assert len(blocks) == 2
    outcome = _run(tmp_path, data_dir)
    d = outcome.details
    assert outcome.failures == 0, outcome.failure_notes
    assert outcome.operations == _expected_ops()
    assert d["data"] == source
    assert "real mainnet blocks" in source
    assert d["real_script_accounts"] == TINY.state_accounts
    assert d["coins_after_first_blocks"] > 0


def test_missing_blocks_fall_back_to_synthetic_scripts(tmp_path: Path) -> None:
    blocks, source = load_real_blocks(tmp_path)
    assert blocks == []
    assert "mainnet_830000.bin" in source
    assert "synthetic" in source


@pytest.mark.parametrize("data", [False, True])
def test_a_corrupt_snapshot_and_a_tampered_proof_are_failures(
        tmp_path: Path, request: pytest.FixtureRequest, data: bool) -> None:
    data_dir = request.getfixturevalue("data_dir") if data else None
    outcome = _run(tmp_path, data_dir, inject=True)
    assert outcome.operations == _expected_ops()
    assert outcome.failures == 2
    corrupt, tampered = outcome.failure_notes
    assert "checksum mismatch" in corrupt
    assert tampered.startswith("proof of account")


def test_the_runner_reports_it_with_the_traced_pass(tmp_path: Path) -> None:
    assert "state-compression" in SCENARIOS
    report = run_one("state-compression", RunContext(TINY, tmp_path, None, None))
    assert report.passed, report.problems
    assert report.success_rate == 1.0
    assert report.tracemalloc_peak_mb is not None
    assert report.tracemalloc_peak_mb > 0
    assert report.tracemalloc_operations == (
        2 * TINY.scaled(0.1).state_snapshots + TINY.scaled(0.1).state_restores
        + TINY.scaled(0.1).state_proofs)
    assert report.latency is not None
    assert report.latency.count == TINY.state_snapshots


def test_the_cli_prints_the_figures_and_fails_on_injection(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Without --data the command falls back to $AUREOND_TEST_DATA (set in CI): clear
    # it, so this run is the synthetic one whatever the environment.
    monkeypatch.delenv("AUREOND_TEST_DATA", raising=False)
    out = tmp_path / "ok.json"
    assert main(["stress", "state-compression", "--scale", "tiny", "--no-trace",
                 "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert (f"state-compression: {TINY.state_accounts:,} accounts, {TINY.state_snapshots} "
            "snapshots; synthetic scripts only") in table
    assert "MiB zlib" in table
    (doc,) = json.loads(out.read_text())["scenarios"]
    assert doc["passed"] is True
    assert doc["details"]["snapshots"] == TINY.state_snapshots
    bad = tmp_path / "bad.json"
    assert main(["stress", "state-compression", "--scale", "tiny", "--no-trace",
                 "--inject-failure", "state-compression", "--json", str(bad)]) == 1
    (doc,) = json.loads(bad.read_text())["scenarios"]
    assert doc["passed"] is False
    assert doc["success_rate"] < 1.0


def test_full_scale_is_the_issue_s_size() -> None:
    full = SCALES["full"]
    assert (full.state_accounts, full.state_snapshots) == (100_000, 100)
    small = full.scaled(0.1)
    assert (small.state_accounts, small.state_snapshots) == (10_000, 10)
    floor = TINY.scaled(0.01)
    assert floor.state_accounts >= 1
    assert floor.state_snapshots >= 1
    assert floor.state_restores >= 1
    assert floor.state_proofs >= 1
