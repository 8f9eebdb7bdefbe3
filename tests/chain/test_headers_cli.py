"""``aureond headers verify`` on real files: exit codes and one JSON line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aureond.chain.header import BlockHeader
from aureond.cli import main
from tests.chain.helpers import FAR_FUTURE, read_run


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main(["headers", "verify", *argv])
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    return code, json.loads(out[0])


@pytest.mark.parametrize(("name", "network", "start"), [
    ("mainnet_000000-010236", "mainnet", 0),
    ("mainnet_822528-830592", "mainnet", 822528),
    ("testnet3_000000-009999", "testnet3", 0),
    ("signet_000000-002015", "signet", 0),
])
def test_valid_runs(capsys: pytest.CaptureFixture[str], data_dir: Path, name: str,
                    network: str, start: int) -> None:
    _, meta = read_run(data_dir, name)
    code, out = _run(capsys, "--network", network, "--anchor-height", str(start),
                     "--now", str(FAR_FUTURE), str(data_dir / "headers" / f"{name}.bin"))
    assert code == 0
    assert out["ok"] is True
    assert out["count"] == meta["count"]
    assert out["tip_height"] == meta["end_height"]
    assert out["tip_hash"] == meta["last_hash"]


def test_first_invalid_height_and_reason(capsys: pytest.CaptureFixture[str], data_dir: Path,
                                         tmp_path: Path) -> None:
    raw, _ = read_run(data_dir, "mainnet_000000-010236")
    bad = bytearray(raw)
    bad[777 * 80 + 76] ^= 0xFF  # nonce of height 777
    path = tmp_path / "bad.bin"
    path.write_bytes(bytes(bad))
    code, out = _run(capsys, "--network", "mainnet", "--now", str(FAR_FUTURE), str(path))
    assert code == 1
    assert out["ok"] is False
    assert (out["height"], out["reason"], out["field"]) == (777, "high-hash", "nonce")


def test_future_headers_rejected_against_now(capsys: pytest.CaptureFixture[str],
                                             data_dir: Path) -> None:
    code, out = _run(capsys, "--network", "mainnet", "--now", "1231006505",
                     str(data_dir / "headers" / "mainnet_000000-010236.bin"))
    assert code == 1
    assert out["reason"] == "time-too-new"


@pytest.mark.parametrize("case", ["missing", "odd-size", "empty", "network", "anchor"])
def test_malformed_input_exit_2(capsys: pytest.CaptureFixture[str], data_dir: Path,
                                tmp_path: Path, case: str) -> None:
    src = data_dir / "headers" / "mainnet_000000-010236.bin"
    args = ["--network", "mainnet", str(src)]
    if case == "missing":
        args[-1] = str(tmp_path / "nope.bin")
    elif case == "odd-size":
        (tmp_path / "odd.bin").write_bytes(src.read_bytes()[:161])
        args[-1] = str(tmp_path / "odd.bin")
    elif case == "empty":
        (tmp_path / "empty.bin").write_bytes(b"")
        args[-1] = str(tmp_path / "empty.bin")
    elif case == "network":
        args[1] = "bogus"
    elif case == "anchor":
        args = ["--anchor-chainwork", "xyz", *args]
    code, out = _run(capsys, *args)
    assert code == 2
    assert out["ok"] is False
    assert out["error"]


def test_wrong_genesis_is_invalid(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    code, out = _run(capsys, "--network", "testnet3",
                     str(data_dir / "headers" / "mainnet_000000-010236.bin"))
    assert code == 1
    assert out["reason"] == "bad-anchor"


def test_litecoin_anchor_needs_the_time_before_it(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path) -> None:
    """A litecoin-retarget network measures from the header before the period, so an
    anchor after genesis needs that header's time: refused without it, with the fix."""
    anchor = BlockHeader(0x20000000, b"\x01" * 32, b"\x02" * 32, 1_500_000_000, 0x1E0FFFF0, 0)
    path = tmp_path / "anchor.bin"
    path.write_bytes(anchor.serialize())
    argv = ("--network", "litecoin-testnet", "--anchor-height", "4032", "--now",
            str(FAR_FUTURE), str(path))
    code, out = _run(capsys, *argv)
    assert (code, out["reason"]) == (1, "bad-anchor")
    assert "header before" in str(out["error"])
    code, out = _run(capsys, *argv, "--anchor-times", "1499999000")
    assert (code, out["ok"], out["tip_height"]) == (0, True, 4032)
