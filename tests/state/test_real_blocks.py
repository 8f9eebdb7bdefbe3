"""Real mainnet blocks scanned for real scripts of every supported type.

For each type, a script is picked from block 830000 whose output is spent later in the
same block. Its address must turn back into the script; the scan must find exactly the
outputs paying it and the inputs spending them (both found here independently by a
plain walk over the block), and every branch must prove its transaction against the
real header of the independent header run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aureond.chain.proof import verify_electrum
from aureond.chain.tx import Block, OutPoint
from aureond.state.addresses import address_for_script, script_kind, watch_script
from aureond.state.errors import BlockMismatchError
from aureond.state.ledger import BlockRef, Coin, Ledger, MoveKind
from aureond.state.networks import ADDRESS_PARAMS
from aureond.state.scanner import check_block, scan_block
from tests.state.helpers import KINDS, RealBlock, load_block

MAIN = ADDRESS_PARAMS["mainnet"]


@pytest.fixture(scope="module")
def b830000(data_dir: Path) -> RealBlock:
    return load_block(data_dir, 830000)


def spent_script_of_kind(block: Block, kind: str) -> bytes:
    """The first script of ``kind`` whose output is spent inside the block."""
    spent = {i.prevout for tx in block.transactions for i in tx.inputs}
    for tx in block.transactions:
        for vout, out in enumerate(tx.outputs):
            if script_kind(out.script_pubkey) == kind and OutPoint(tx.txid, vout) in spent:
                return out.script_pubkey
    raise AssertionError(f"no spent {kind} output")


def expected(block: Block, script: bytes) -> tuple[set[OutPoint], set[tuple[OutPoint, bytes]]]:
    paid = {OutPoint(tx.txid, v) for tx in block.transactions
            for v, o in enumerate(tx.outputs) if o.script_pubkey == script}
    spends = {(i.prevout, tx.txid) for tx in block.transactions for i in tx.inputs
              if i.prevout in paid}
    return paid, spends


def test_block_matches_its_real_header(b830000: RealBlock) -> None:
    check_block(b830000.block, b830000.header)


@pytest.mark.parametrize("kind", KINDS)
def test_scan_finds_real_outputs_and_spends(b830000: RealBlock, kind: str) -> None:
    block = b830000.block
    script = spent_script_of_kind(block, kind)
    address = address_for_script(script, MAIN)
    assert address is not None
    assert watch_script(address, MAIN) == script
    paid, spends = expected(block, script)
    assert spends, "the chosen script is spent inside the block"

    scan = scan_block(block, {script}, {})
    assert {c.outpoint for c in scan.credits} == paid
    assert {(d.outpoint, d.txid) for d in scan.debits} == spends
    for inc in scan.inclusions:
        result = verify_electrum(inc.txid, inc.branch, inc.pos, b830000.header, inc.tx_count)
        assert result.matches[0].txid == block.transactions[inc.pos].txid
    assert {i.txid for i in scan.inclusions} == (
        {op.txid for op in paid} | {t for _, t in spends})

    ledger = Ledger()
    ledger.watch(script, 830000)
    ledger.apply(830000, scan)
    unspent = paid - {op for op, _ in spends}
    assert {c.outpoint for c in ledger.coins_of(script)} == unspent
    kinds = [m.kind for m in ledger.history_of(script)]
    assert kinds.count(MoveKind.CREDIT) == len(paid)
    assert kinds.count(MoveKind.DEBIT) == len(spends)
    for move in ledger.history_of(script):
        kept = ledger.inclusion(move.txid)
        assert kept is not None
        verify_electrum(kept.txid, kept.branch, kept.pos, b830000.header, kept.tx_count)


def test_spend_of_a_coin_from_an_earlier_block(b830000: RealBlock) -> None:
    """An input of 830000 spends a coin the ledger holds from before: it is debited."""
    block = b830000.block
    tx = block.transactions[100]
    prev = tx.inputs[0].prevout
    ledger = Ledger()
    script = bytes.fromhex("0014" + "11" * 20)
    ledger.restore(BlockRef(829999, block.header.prev_hash), {script: 829000},
                   [Coin(prev, script, 12_345, 829500, 7)], [], [], [])
    scan = scan_block(block, set(ledger.watched), ledger.coins)
    assert [(d.outpoint, d.txid) for d in scan.debits] == [(prev, tx.txid)]
    ledger.apply(830000, scan)
    assert ledger.coins_of(script) == []
    inc = ledger.inclusion(tx.txid)
    assert inc is not None
    assert inc.pos == 100
    verify_electrum(inc.txid, inc.branch, inc.pos, b830000.header, inc.tx_count)


@pytest.mark.parametrize("height", [866342, 574200, 481815, 300025, 277647])
def test_other_real_blocks_scan_consistently(data_dir: Path, height: int) -> None:
    real = load_block(data_dir, height)
    check_block(real.block, real.header)
    scripts = {o.script_pubkey for tx in real.block.transactions[1:40] for o in tx.outputs}
    scan = scan_block(real.block, scripts, {})
    total = sum(1 for tx in real.block.transactions for o in tx.outputs
                if o.script_pubkey in scripts)
    assert len(scan.credits) == total
    for inc in scan.inclusions:
        verify_electrum(inc.txid, inc.branch, inc.pos, real.header, inc.tx_count)


def test_block_with_another_header_is_refused(data_dir: Path, b830000: RealBlock) -> None:
    other = load_block(data_dir, 866342)
    with pytest.raises(BlockMismatchError) as info:
        check_block(other.block, b830000.header)
    assert info.value.reason == "header-mismatch"


def test_block_with_tampered_transactions_is_refused(b830000: RealBlock) -> None:
    block = b830000.block
    txs = list(block.transactions)
    txs[5], txs[6] = txs[6], txs[5]
    with pytest.raises(BlockMismatchError) as info:
        check_block(Block(block.header, tuple(txs)), b830000.header)
    assert info.value.reason == "merkle-mismatch"


def test_mutated_block_is_refused(data_dir: Path) -> None:
    """Duplicating the last transaction of an odd level keeps the root (CVE-2012-2459)."""
    real = load_block(data_dir, 830000)
    txs = real.block.transactions
    assert len(txs) % 2 == 1
    mutated = Block(real.block.header, (*txs, txs[-1]))
    with pytest.raises(BlockMismatchError) as info:
        check_block(mutated, real.header)
    assert info.value.reason == "mutated"
