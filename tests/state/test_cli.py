"""``aureond state verify`` and ``aureond state prove`` on real-data snapshots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aureond.cli import main
from aureond.state.accounts import AccountRegistry
from aureond.state.ledger import Ledger
from aureond.state.snapshot import build_snapshot
from tests.state.test_snapshot import real_state

__all__ = ["real_state"]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main(list(argv))
    out = capsys.readouterr().out.strip().splitlines()[-1]
    return code, json.loads(out)


def test_verify_and_prove(real_state: tuple[AccountRegistry, Ledger], tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    registry, ledger = real_state
    info, data = build_snapshot("mainnet", registry, ledger, 9)
    snap = tmp_path / "s.snap"
    snap.write_bytes(data)
    code, doc = _run(capsys, "state", "verify", str(snap))
    assert code == 0
    assert doc["state_root"] == info.state_root.hex()

    account_id = sorted(a.id for a in registry)[2]
    code, proof = _run(capsys, "state", "prove", str(snap), account_id)
    assert code == 0
    proof_file = tmp_path / "p.json"
    proof_file.write_text(json.dumps(proof))
    code, doc = _run(capsys, "state", "verify", str(proof_file), "--root",
                     info.state_root.hex())
    assert (code, doc["id"]) == (0, account_id)
    code, doc = _run(capsys, "state", "verify", str(proof_file), "--root", "00" * 32)
    assert (code, doc["reason"]) == (1, "root-mismatch")

    snap.write_bytes(data[:-1])
    code, doc = _run(capsys, "state", "verify", str(snap))
    assert code == 1
    assert "truncated" in str(doc["error"])
    code, _ = _run(capsys, "state", "prove", str(snap), account_id)
    assert code == 1
    garbage = tmp_path / "g"
    garbage.write_bytes(b"\xff\xfe")
    assert _run(capsys, "state", "verify", str(garbage))[0] == 2
    assert _run(capsys, "state", "verify", str(tmp_path / "missing"))[0] == 2
