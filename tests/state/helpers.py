"""Real mainnet blocks and headers for the state tests, and a small synthetic chain."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from aureond.chain.header import HEADER_SIZE, BlockHeader
from aureond.chain.tx import Block, OutPoint, parse_block
from aureond.state.ledger import Ledger
from aureond.state.scanner import BlockScan, Credit, Debit

RUN_START = 822528
KINDS = ("p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr")


@dataclass(frozen=True, slots=True)
class RealBlock:
    height: int
    block: Block
    header: BlockHeader
    """The header at that height from the independent header run (our 'validated' one)."""


def load_block(data_dir: Path, height: int) -> RealBlock:
    block = parse_block((data_dir / "blocks" / f"mainnet_{height}.bin").read_bytes())
    doc = json.loads((data_dir / "blocks" / f"mainnet_{height}.json").read_text())
    header = BlockHeader.from_hex(doc["header_hex"])
    if RUN_START <= height <= 830592:
        raw = (data_dir / "headers" / "mainnet_822528-830592.bin").read_bytes()
        off = (height - RUN_START) * HEADER_SIZE
        header = BlockHeader.parse(raw[off:off + HEADER_SIZE])
    return RealBlock(height, block, header)


def h(n: int) -> bytes:
    """A synthetic 32-byte hash."""
    return n.to_bytes(4, "big") + bytes(28)


def synthetic_scan(block_id: int, prev_id: int, credits: list[tuple[int, bytes, int]],
                   debits: list[tuple[int, int]]) -> BlockScan:
    """A scan of a made-up block: credits (tx id, script, value) pay vout 0 of tx id;
    debits (spender tx id, spent tx id) spend vout 0."""
    cs = tuple(Credit(OutPoint(h(t), 0), s, v, i) for i, (t, s, v) in enumerate(credits))
    ds = tuple(Debit(OutPoint(h(spent), 0), h(t), 0, len(credits) + i)
               for i, (t, spent) in enumerate(debits))
    return BlockScan(h(block_id), h(prev_id), len(cs) + len(ds) + 1, cs, ds, ())


def fingerprint(ledger: Ledger) -> tuple[object, ...]:
    """Everything observable of a ledger, in a comparable form."""
    coins = sorted((c.outpoint.txid, c.outpoint.vout, c.script, c.value, c.height, c.pos)
                   for c in ledger.coins.values())
    history = {s: [(m.kind, m.txid, m.height, m.pos, m.coin) for m in ledger.history_of(s)]
               for s in ledger.watched if ledger.history_of(s)}
    return (ledger.tip, dict(ledger.watched), coins, history,
            sorted(ledger.inclusions))
