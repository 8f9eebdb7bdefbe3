"""``aureond proof verify`` through ``aureond.cli.main``: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aureond.chain.header import BlockHeader
from aureond.chain.params import get_network
from aureond.cli import main

HASH_830000 = "000000000000000000011d55599ed27d7efca05f5849b755319c89eb2cffbc1f"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["proof", "verify", *argv])
    captured = capsys.readouterr()
    out = captured.out.strip().splitlines()
    assert len(out) == 1
    assert (code == 0) == (captured.err == "")   # failures also explain on stderr
    doc: dict[str, Any] = json.loads(out[0])
    return code, doc


def _header(data_dir: Path, name: str = "mainnet_830000") -> str:
    meta = json.loads((data_dir / "blocks" / f"{name}.json").read_text())
    header_hex: str = meta["header_hex"]
    return header_hex


def _proof(data_dir: Path, name: str) -> str:
    return (data_dir / "proofs" / "bip37" / name).read_bytes().hex()


def test_valid_txoutproof(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = _run(capsys, "--network", "mainnet", "--header", _header(data_dir),
                     _proof(data_dir, "mainnet_0830000-1850.bin"))
    assert code == 0
    assert doc["valid"] is True
    assert doc["block_hash"] == HASH_830000
    assert doc["positions"] == [1850]
    assert doc["txids"] == ["c24d5781d4d048d42ca6c9bef9035cf4d6a49c58e0a8dc091f137ba65efa5f1f"]
    assert doc["matched"] == [{"pos": 1850, "txid": doc["txids"][0]}]


def test_valid_electrum_file(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = data_dir / "proofs" / "electrum" / "mainnet_866342_get_merkle.json"
    code, doc = _run(capsys, "--network", "mainnet", "--header",
                     _header(data_dir, "mainnet_866342"), "--electrum", str(path))
    assert code == 0
    assert doc["positions"] == [0, 1, 2431, 4095, 4096, 4862, 4863]


def test_single_electrum_object(data_dir: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads((data_dir / "proofs" / "electrum" / "mainnet_830000_get_merkle.json"
                      ).read_text())
    one = tmp_path / "one.json"
    one.write_text(json.dumps(doc["cases"][3]))
    code, out = _run(capsys, "--network", "mainnet", "--header", _header(data_dir),
                     "--electrum", str(one))
    assert (code, out["positions"]) == (0, [doc["cases"][3]["pos"]])


def test_proof_for_another_block_is_invalid(data_dir: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = _run(capsys, "--network", "mainnet", "--header",
                     _header(data_dir, "mainnet_866342"),
                     _proof(data_dir, "mainnet_0830000-0.bin"))
    assert code == 1
    assert doc["valid"] is False
    assert doc["reason"] == "header-mismatch"


def test_electrum_file_against_another_header_is_invalid(
        data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = data_dir / "proofs" / "electrum" / "mainnet_866342_get_merkle.json"
    code, doc = _run(capsys, "--network", "mainnet", "--header", _header(data_dir),
                     "--electrum", str(path))
    assert (code, doc["reason"]) == (1, "root-mismatch")


def test_header_without_work_is_invalid(data_dir: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    header = BlockHeader.from_hex(_header(data_dir))
    raw = bytearray(header.serialize())
    raw[76] ^= 1                                       # change the nonce
    code, doc = _run(capsys, "--network", "mainnet", "--header", raw.hex(),
                     _proof(data_dir, "mainnet_0830000-0.bin"))
    assert (code, doc["reason"]) == (1, "high-hash")


def test_regtest_header_is_above_the_mainnet_limit(
        capsys: pytest.CaptureFixture[str]) -> None:
    regtest_genesis = get_network("regtest").genesis.serialize().hex()
    code, doc = _run(capsys, "--network", "mainnet", "--header", regtest_genesis, "00" * 90)
    assert (code, doc["reason"]) == (1, "bits-above-limit")


@pytest.mark.parametrize(("header", "proof"), [
    ("zz", "00"),
    ("00" * 79, "00"),
    (None, "not-hex"),
    (None, "00" * 81),
])
def test_malformed_input_exits_2(data_dir: Path, capsys: pytest.CaptureFixture[str],
                                 header: str | None, proof: str) -> None:
    code, doc = _run(capsys, "--network", "mainnet", "--header",
                     header if header is not None else _header(data_dir), proof)
    assert code == 2
    assert doc["ok"] is False
    assert doc["error"]


@pytest.mark.parametrize("content", ["{not json", "[]", '{"merkle": []}',
                                     '{"tx_hash": "00", "merkle": [], "pos": 0}'])
def test_malformed_electrum_file_exits_2(data_dir: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str],
                                         content: str) -> None:
    path = tmp_path / "proof.json"
    path.write_text(content)
    code, doc = _run(capsys, "--network", "mainnet", "--header", _header(data_dir),
                     "--electrum", str(path))
    assert code == 2
    assert doc["ok"] is False


def test_missing_electrum_file_exits_2(data_dir: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = _run(capsys, "--network", "mainnet", "--header", _header(data_dir),
                     "--electrum", str(tmp_path / "absent.json"))
    assert code == 2
    assert "cannot read" in doc["error"]


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["proof", "verify", "--network", "nowhere", "--header", "00", "00"],
                 ["proof", "verify", "--network", "mainnet", "--header", "00"],
                 ["proof", "verify", "--header", "00", "00"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    capsys.readouterr()
