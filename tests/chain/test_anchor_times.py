"""An anchor never refuses a valid chain: real testnet3 cut at its retarget boundaries,
and the median-time-past rule with and without the times before the anchor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aureond.chain.batch import validate_batch
from aureond.chain.context import anchor_context
from aureond.chain.header import HEADER_SIZE, BlockHeader
from aureond.chain.params import REGTEST
from aureond.cli import main
from aureond.errors import HeaderRejectedError
from tests.chain.helpers import FAR_FUTURE, chain_of, mine, read_run


def _verify(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main(["headers", "verify", *argv])
    return code, json.loads(capsys.readouterr().out.strip())


@pytest.mark.parametrize("anchor", [2016, 6048, 8064])
@pytest.mark.parametrize("with_times", [False, True])
def test_real_testnet3_after_an_anchor(capsys: pytest.CaptureFixture[str], data_dir: Path,
                                       tmp_path: Path, anchor: int, with_times: bool) -> None:
    raw, meta = read_run(data_dir, "testnet3_000000-009999")
    cut = tmp_path / "cut.bin"
    cut.write_bytes(raw[anchor * HEADER_SIZE:])
    extra: list[str] = []
    if with_times:
        times = [BlockHeader.parse(raw[h * HEADER_SIZE:(h + 1) * HEADER_SIZE]).time
                 for h in range(anchor - 10, anchor)]
        extra = ["--anchor-times", ",".join(map(str, times))]
    code, out = _verify(capsys, "--network", "testnet3", "--anchor-height", str(anchor),
                        "--now", str(FAR_FUTURE), *extra, str(cut))
    assert (code, out["ok"], out["tip_height"]) == (0, True, 9999)
    assert out["tip_hash"] == meta["last_hash"]


def test_real_header_after_the_anchor_is_older_than_the_anchor(data_dir: Path) -> None:
    # What made the old rule refuse: 2017 is older than 2016 yet after the true median.
    raw, _ = read_run(data_dir, "testnet3_000000-009999")
    h2016, h2017 = (BlockHeader.parse(raw[h * HEADER_SIZE:(h + 1) * HEADER_SIZE])
                    for h in (2016, 2017))
    assert h2017.time <= h2016.time


def _synthetic() -> tuple[list[BlockHeader], int]:
    chain = [REGTEST.genesis, *chain_of(REGTEST, REGTEST.genesis, 100, salt=3)]
    true_mtp = sorted(h.time for h in chain[90:101])[5]
    return chain, true_mtp


@pytest.mark.parametrize("offset", [-1, 0])
def test_with_the_earlier_times_the_full_rule_holds_from_the_first_header(offset: int) -> None:
    chain, true_mtp = _synthetic()
    anchor = chain[100]
    ctx = anchor_context(REGTEST, anchor, 100, earlier_times=tuple(h.time for h in chain[90:100]))
    bad = mine(anchor.hash, true_mtp + offset, anchor.bits)  # at or before the median
    with pytest.raises(HeaderRejectedError) as err:
        validate_batch(REGTEST, ctx, bad.serialize(), FAR_FUTURE)
    assert err.value.reason == "time-too-old"


def test_without_them_only_what_the_full_rule_refuses_is_refused() -> None:
    chain, true_mtp = _synthetic()
    anchor = chain[100]
    bare = anchor_context(REGTEST, anchor, 100)
    # Older than the anchor and after the true median: valid by the full rule.
    ok = mine(anchor.hash, true_mtp + 1, anchor.bits)
    assert validate_batch(REGTEST, bare, ok.serialize(), FAR_FUTURE).context.height == 101
    # As headers follow, the known times tighten the bound until it is the full rule:
    # after ten of them a header at the median of the last eleven is refused.
    run = chain_of(REGTEST, anchor, 10, salt=4)
    ctx = validate_batch(REGTEST, bare, b"".join(h.serialize() for h in run),
                         FAR_FUTURE).context
    median = sorted((anchor.time, *(h.time for h in run)))[5]
    with pytest.raises(HeaderRejectedError) as err:
        validate_batch(REGTEST, ctx, mine(run[-1].hash, median, anchor.bits).serialize(),
                       FAR_FUTURE)
    assert err.value.reason == "time-too-old"


def test_bad_anchor_times_are_a_clear_input_error(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path) -> None:
    f = tmp_path / "one.bin"
    f.write_bytes(REGTEST.genesis.serialize())
    code, out = _verify(capsys, "--network", "regtest", "--anchor-times", "1,x", str(f))
    assert code == 2
    assert "--anchor-times" in str(out["error"])
    code, out = _verify(capsys, "--network", "regtest", "--anchor-times",
                        ",".join(["1"] * 11), str(f))
    assert code == 2
    assert "at most 10" in str(out["error"])
