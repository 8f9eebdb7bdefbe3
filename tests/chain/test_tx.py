"""Transaction and block parsing: real blocks, table-driven failures, properties."""

from __future__ import annotations

import contextlib
import json
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aureond.chain.hashing import dsha256, hash_to_display
from aureond.chain.merkle import merkle_root_mutated
from aureond.chain.tx import (
    Transaction,
    compact_size,
    is_transaction,
    parse_block,
    parse_transaction,
)
from aureond.errors import EncodingError

# --- a small serializer, written from the BIP144 layout, to build test inputs ---------

Input = tuple[bytes, int, bytes, int]          # prev txid, vout, scriptSig, sequence
Output = tuple[int, bytes]                     # value, scriptPubKey


def ser_tx(version: int, inputs: list[Input], outputs: list[Output], locktime: int,
           witnesses: list[list[bytes]] | None = None) -> bytes:
    body = [compact_size(len(inputs))]
    for txid, vout, script, seq in inputs:
        body += [txid, struct.pack("<I", vout), compact_size(len(script)), script,
                 struct.pack("<I", seq)]
    body.append(compact_size(len(outputs)))
    for value, script in outputs:
        body += [struct.pack("<q", value), compact_size(len(script)), script]
    parts = [struct.pack("<i", version)]
    if witnesses is not None:
        parts.append(b"\x00\x01")
    parts += body
    if witnesses is not None:
        for stack in witnesses:
            parts.append(compact_size(len(stack)))
            parts += [compact_size(len(item)) + item for item in stack]
    parts.append(struct.pack("<I", locktime))
    return b"".join(parts)


PREV = bytes(range(32))
SIMPLE = ser_tx(1, [(PREV, 0, b"\x51", 0xFFFFFFFF)], [(5000, b"\x51")], 0)
SEGWIT = ser_tx(2, [(PREV, 1, b"", 0xFFFFFFFD)], [(1, b"\x00\x14" + bytes(20))], 7,
                witnesses=[[b"\x30" * 71, b"\x02" * 33]])


def block_of(*txs: bytes) -> bytes:
    txids = [parse_transaction(t).txid for t in txs]
    root, _ = merkle_root_mutated(txids)
    header = struct.pack("<i32s32sIII", 1, bytes(32), root, 0, 0x207FFFFF, 0)
    return header + compact_size(len(txs)) + b"".join(txs)


# --- real data -------------------------------------------------------------------------

def _real_blocks(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "blocks").glob("*.bin"))


def test_every_real_block_parses_and_its_merkle_root_matches(data_dir: Path) -> None:
    paths = _real_blocks(data_dir)
    assert len(paths) >= 7
    for path in paths:
        meta = json.loads(path.with_suffix(".json").read_text())
        block = parse_block(path.read_bytes())
        root, mutated = merkle_root_mutated(block.txids)
        assert root == block.header.merkle_root, path.name
        assert not mutated
        assert block.header.hash_hex == meta["hash"]
        assert len(block.transactions) == meta["tx_count"]
        assert sum(tx.has_witness for tx in block.transactions) == meta["segwit_tx_count"]
        assert block.transactions[0].is_coinbase
        assert not any(tx.is_coinbase for tx in block.transactions[1:])
        assert sum(tx.size for tx in block.transactions) + 80 < len(path.read_bytes())


def test_every_testnet3_blockfilter_block_parses(data_dir: Path) -> None:
    rows = json.loads((data_dir / "blocks" / "testnet3_blockfilters.json").read_text())[1:]
    assert len(rows) == 10
    for row in rows:
        block = parse_block(bytes.fromhex(row[2]))
        assert block.header.hash_hex == row[1]
        assert merkle_root_mutated(block.txids) == (block.header.merkle_root, False)


def test_real_txids_and_wtxids(data_dir: Path) -> None:
    block = parse_block((data_dir / "blocks" / "mainnet_830000.bin").read_bytes())
    index = json.loads((data_dir / "proofs" / "bip37" / "index.json").read_text())
    expected = {m["pos"]: m["txid"] for p in index["proofs"] for m in p["matched"]
                if p["block_hash"] == block.header.hash_hex}
    assert expected
    for pos, txid in expected.items():
        assert block.transactions[pos].txid_hex == txid
    for tx in block.transactions:
        assert (tx.wtxid == tx.txid) == (not tx.has_witness)
        assert tx.weight <= 4 * tx.size
    # outputs and inputs are exposed for script scans
    coinbase = block.transactions[0]
    assert coinbase.inputs[0].prevout.vout == 0xFFFFFFFF
    assert all(isinstance(o.script_pubkey, bytes) for o in coinbase.outputs)


def test_truncated_real_block_is_an_encoding_error(data_dir: Path) -> None:
    raw = (data_dir / "blocks" / "mainnet_0000000000013b8a_9tx.bin").read_bytes()
    parse_block(raw)
    for cut in range(len(raw)):
        with pytest.raises(EncodingError):
            parse_block(raw[:cut])
    with pytest.raises(EncodingError, match="trailing"):
        parse_block(raw + b"\x00")


# --- units ---------------------------------------------------------------------------

def test_legacy_txid_is_hash_of_the_bytes() -> None:
    tx = parse_transaction(SIMPLE)
    assert tx.txid == tx.wtxid == dsha256(SIMPLE)
    assert not tx.has_witness
    assert tx.size == tx.base_size == len(SIMPLE) == 62
    assert tx.inputs[0].prevout.txid == PREV
    assert tx.outputs[0].value == 5000
    assert tx.txid_hex == hash_to_display(tx.txid)


def test_segwit_txid_excludes_the_witness() -> None:
    tx = parse_transaction(SEGWIT)
    base = ser_tx(2, [(PREV, 1, b"", 0xFFFFFFFD)], [(1, b"\x00\x14" + bytes(20))], 7)
    assert tx.has_witness
    assert tx.txid == dsha256(base)
    assert tx.wtxid == dsha256(SEGWIT)
    assert tx.base_size == len(base)
    assert tx.weight == 3 * len(base) + len(SEGWIT)


HUGE = b"\xff" + (2**64 - 1).to_bytes(8, "little")

BAD_TXS = {
    "no inputs, no flag": ser_tx(1, [], [(1, b"")], 0)[:4] + b"\x00\x00" + bytes(54),
    "segwit flag 2": SEGWIT[:5] + b"\x02" + SEGWIT[6:],
    "segwit, all witnesses empty": ser_tx(1, [(PREV, 0, b"", 0)], [(1, b"\x51")], 0,
                                          witnesses=[[]]),
    "no outputs": ser_tx(1, [(PREV, 0, b"\x51" * 12, 0)], [], 0),
    "non-canonical input count": SIMPLE[:4] + b"\xfd\x01\x00" + SIMPLE[5:],
    "huge input count": SIMPLE[:4] + HUGE + SIMPLE[5:],
    "input count beyond the data": SIMPLE[:4] + b"\x02" + SIMPLE[5:],
    "script longer than the data": SIMPLE[:41] + b"\xfc" + SIMPLE[42:],
    "missing locktime": SIMPLE[:-4],
    "trailing byte": SIMPLE + b"\x00",
    "too short": SIMPLE[:10],
}


@pytest.mark.parametrize("raw", list(BAD_TXS.values()), ids=list(BAD_TXS))
def test_bad_transactions_are_encoding_errors(raw: bytes) -> None:
    with pytest.raises(EncodingError):
        parse_transaction(raw)
    assert not is_transaction(raw)


BAD_BLOCKS = {
    "shorter than a header": bytes(79),
    "zero transactions": bytes(80) + b"\x00",
    "huge count, no bytes": bytes(80) + HUGE,
    "count beyond the data": bytes(80) + b"\x02" + SIMPLE,
    "trailing garbage": block_of(SIMPLE) + b"\x00",
}


@pytest.mark.parametrize("raw", list(BAD_BLOCKS.values()), ids=list(BAD_BLOCKS))
def test_bad_blocks_are_encoding_errors(raw: bytes) -> None:
    with pytest.raises(EncodingError):
        parse_block(raw)


def test_synthetic_block_round_trip() -> None:
    block = parse_block(block_of(SIMPLE, SEGWIT))
    assert [tx.txid for tx in block.transactions] == block.txids
    assert merkle_root_mutated(block.txids)[0] == block.header.merkle_root


# --- properties ------------------------------------------------------------------------

scripts = st.binary(max_size=300)
inputs_st = st.lists(st.tuples(st.binary(min_size=32, max_size=32),
                               st.integers(0, 2**32 - 1), scripts,
                               st.integers(0, 2**32 - 1)), min_size=1, max_size=5)
outputs_st = st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), scripts),
                      min_size=1, max_size=5)


@st.composite
def transactions(draw: st.DrawFn) -> tuple[bytes, bytes, list[Input], list[Output]]:
    ins = draw(inputs_st)
    outs = draw(outputs_st)
    version = draw(st.integers(-(2**31), 2**31 - 1))
    locktime = draw(st.integers(0, 2**32 - 1))
    base = ser_tx(version, ins, outs, locktime)
    if draw(st.booleans()):
        stacks = [draw(st.lists(st.binary(max_size=80), max_size=3)) for _ in ins]
        if not any(stacks):
            stacks[0] = [b"\x01"]
        return ser_tx(version, ins, outs, locktime, stacks), base, ins, outs
    return base, base, ins, outs


@settings(max_examples=200)
@given(transactions())
def test_transaction_round_trip(case: tuple[bytes, bytes, list[Input], list[Output]]) -> None:
    raw, base, ins, outs = case
    tx: Transaction = parse_transaction(raw)
    assert tx.txid == dsha256(base)
    assert tx.wtxid == dsha256(raw)
    assert [(i.prevout.txid, i.prevout.vout, i.script_sig, i.sequence)
            for i in tx.inputs] == ins
    assert [(o.value, o.script_pubkey) for o in tx.outputs] == outs
    assert (tx.size, tx.base_size) == (len(raw), len(base))


@settings(max_examples=100)
@given(transactions(), st.binary(min_size=1, max_size=8))
def test_prefixes_and_trailing_garbage_are_encoding_errors(
        case: tuple[bytes, bytes, list[Input], list[Output]], junk: bytes) -> None:
    raw = case[0]
    for cut in range(len(raw)):
        with pytest.raises(EncodingError):
            parse_transaction(raw[:cut])
    with pytest.raises(EncodingError):
        parse_transaction(raw + junk)


@settings(max_examples=500)
@given(st.binary(max_size=400))
def test_random_bytes_parse_or_raise_encoding_error(raw: bytes) -> None:
    for parser in (parse_transaction, parse_block):
        with contextlib.suppress(EncodingError):
            parser(raw)


def test_compact_size_widths() -> None:
    assert [len(compact_size(n)) for n in (0, 0xFC, 0xFD, 0xFFFF, 0x10000, 2**32)] == \
        [1, 1, 3, 3, 5, 9]
    assert compact_size(0xFD) == b"\xfd\xfd\x00"
