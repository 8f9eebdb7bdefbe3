"""Bitcoin's checkpoints and minimum chain work (Bitcoin Core's) against the real chain.

The values in ``aureond.chain.params`` were read from Bitcoin Core's chainparams; these
tests hold them against chain data from other sources, so a wrong digit in a checkpoint
or a minimum chain work below work the real chain had long ago shows.
"""

from __future__ import annotations

import json
from pathlib import Path

from aureond.chain.batch import validate_batch
from aureond.chain.context import genesis_context
from aureond.chain.hashing import hash_to_display
from aureond.chain.header import HEADER_SIZE
from aureond.chain.params import MAINNET, SIGNET, TESTNET3, TESTNET4
from aureond.chain.target import bits_to_target, work_from_bits
from tests.chain.helpers import FAR_FUTURE, read_run


def _boundaries(data_dir: Path) -> dict[int, dict[str, str]]:
    doc = json.loads((data_dir / "headers" / "mainnet_retarget_boundaries.json").read_text())
    return {e["height"]: e for e in doc["entries"]}


def test_mainnet_minimum_chain_work_is_above_the_work_at_832608(data_dir: Path) -> None:
    entries = _boundaries(data_dir)
    last = max(entries)
    assert last == 832608
    assert MAINNET.minimum_chain_work > int(entries[last]["chainwork"], 16)
    # ... and below what the chain can have had at height 912683 (where Core took it)
    # had the difficulty been 4 times that of 832608 all along: a value read with a
    # digit too many would not be.
    step = work_from_bits(int(entries[last]["bits"], 16))
    ceiling = int(entries[last]["chainwork"], 16) + (912683 - last) * 4 * step
    assert MAINNET.minimum_chain_work < ceiling


def test_mainnet_checkpoints_meet_the_difficulty_of_their_period(data_dir: Path) -> None:
    """Each checkpoint hash is at or below the target of its real period: a hash read
    wrong in its leading digits would not be."""
    entries = _boundaries(data_dir)
    assert [c.height for c in MAINNET.checkpoints][-2:] == [279000, 295000]
    for cp in MAINNET.checkpoints:
        period = entries[cp.height - cp.height % 2016]
        target = bits_to_target(int(period["bits"], 16))
        assert int.from_bytes(cp.hash, "little") <= target, cp.height
        # and it is not one of the period's boundary headers (those are known).
        assert hash_to_display(cp.hash) != period["hash"]


def test_testnet3_minimum_chain_work_is_above_bitcoinj_last_checkpoint(
        data_dir: Path) -> None:
    doc = json.loads((data_dir / "checkpoints" /
                      "bitcoinj_testnet3_checkpoints_decoded.json").read_text())
    last = max(doc["entries"], key=lambda e: e["height"])
    assert last["height"] == 3612672
    chainwork = last["chainwork"]
    work = int(chainwork, 16) if isinstance(chainwork, str) else int(chainwork)
    assert TESTNET3.minimum_chain_work > work


def test_signet_minimum_chain_work_is_above_its_first_period(data_dir: Path) -> None:
    raw, _ = read_run(data_dir, "signet_000000-002015")
    result = validate_batch(SIGNET, genesis_context(SIGNET), raw[HEADER_SIZE:], FAR_FUTURE)
    assert result.context.height == 2015
    # The real first period is valid, and far below the minimum: it would not be stored
    # by a syncing node, though the validator accepts it.
    assert SIGNET.minimum_chain_work > 100 * result.context.chainwork


def test_testnet4_minimum_chain_work_is_beyond_its_electrum_checkpoints(
        data_dir: Path) -> None:
    # Electrum's testnet4 file holds one hash per 2016 blocks; every block carries at
    # least difficulty-1 work, so the chain they cover has at least this much.
    hashes = json.loads((data_dir / "checkpoints" /
                         "electrum_testnet4_checkpoints.json").read_text())
    floor = len(hashes) * 2016 * work_from_bits(0x1D00FFFF)
    assert TESTNET4.minimum_chain_work > floor
    assert TESTNET4.checkpoints == ()
    assert SIGNET.checkpoints == ()
