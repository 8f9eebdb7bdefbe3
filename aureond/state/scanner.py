"""Scan a full block for watched scripts: pure, no I/O, no state of its own.

:func:`check_block` first proves that the bytes are the block we validated a header
for: the header inside equals ours, and the merkle root of the transactions' txids
equals the header's (a tree with two equal adjacent nodes at some level is refused:
CVE-2012-2459 lets such a list share the root of a different one). Witness data is
not committed by that root, and the scan reads none of it: outputs and inputs only.

:func:`scan_block` then finds, in block order:

* credits: outputs whose scriptPubKey is watched;
* debits: inputs spending a tracked outpoint, including outputs credited earlier in
  the same block (a chain of transactions inside one block);
* for every transaction that credits or debits, its merkle branch (the Electrum
  ``get_merkle`` form), so each can later be proven to anyone holding the header.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from aureond.chain.header import BlockHeader
from aureond.chain.merkle import MerkleTree, merkle_root_mutated
from aureond.chain.tx import Block, OutPoint
from aureond.state.errors import BlockMismatchError

__all__ = ["BlockScan", "Credit", "Debit", "TxInclusion", "check_block", "scan_block"]


@dataclass(frozen=True, slots=True)
class Credit:
    """An output paying a watched script: ``outpoint`` (txid, vout) and its value."""

    outpoint: OutPoint
    script: bytes
    value: int
    pos: int
    """Position of the transaction in the block."""


@dataclass(frozen=True, slots=True)
class Debit:
    """An input of transaction ``txid`` (at block position ``pos``) spending ``outpoint``."""

    outpoint: OutPoint
    txid: bytes
    vin: int
    pos: int


@dataclass(frozen=True, slots=True)
class TxInclusion:
    """A transaction's place in its block: position, tree size and merkle branch."""

    txid: bytes
    pos: int
    tx_count: int
    branch: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class BlockScan:
    """What one block means to the watched scripts (empty tuples: nothing)."""

    block_hash: bytes
    prev_hash: bytes
    tx_count: int
    credits: tuple[Credit, ...]
    debits: tuple[Debit, ...]
    inclusions: tuple[TxInclusion, ...]

    @property
    def relevant(self) -> bool:
        return bool(self.credits or self.debits)


def check_block(block: Block, header: BlockHeader) -> None:
    """Raise :class:`BlockMismatchError` unless ``block`` is the block of ``header``.

    Reasons: ``header-mismatch`` (another block), ``merkle-mismatch`` (transactions
    that are not the committed ones), ``mutated`` (a duplicated-subtree list).
    """
    if block.header.hash != header.hash:
        raise BlockMismatchError("header-mismatch", f"got block {block.header.hash_hex}, "
                                 f"asked for {header.hash_hex}")
    root, mutated = merkle_root_mutated(block.txids)
    if root != header.merkle_root:
        raise BlockMismatchError("merkle-mismatch", f"the transactions of block "
                                 f"{header.hash_hex} do not hash to its merkle root")
    if mutated:
        raise BlockMismatchError("mutated", f"block {header.hash_hex} repeats a subtree "
                                 "of its merkle tree (CVE-2012-2459)")


def scan_block(block: Block, watched: Collection[bytes],
               tracked: Collection[OutPoint]) -> BlockScan:
    """Credits, debits and branches of ``block`` for ``watched`` scripts.

    ``tracked`` are the unspent outpoints already credited (the ledger's coins).
    Call :func:`check_block` first: this function trusts the bytes.
    """
    credits: list[Credit] = []
    debits: list[Debit] = []
    relevant: list[int] = []
    fresh: set[OutPoint] = set()
    spent: set[OutPoint] = set()
    for pos, tx in enumerate(block.transactions):
        hit = False
        if (tracked or fresh) and not tx.is_coinbase:
            for vin, txin in enumerate(tx.inputs):
                prev = txin.prevout
                if (prev in tracked or prev in fresh) and prev not in spent:
                    debits.append(Debit(prev, tx.txid, vin, pos))
                    fresh.discard(prev)
                    spent.add(prev)
                    hit = True
        for vout, out in enumerate(tx.outputs):
            if out.script_pubkey in watched:
                op = OutPoint(tx.txid, vout)
                credits.append(Credit(op, out.script_pubkey, out.value, pos))
                fresh.add(op)
                hit = True
        if hit:
            relevant.append(pos)
    inclusions: tuple[TxInclusion, ...] = ()
    if relevant:
        txids = block.txids
        tree = MerkleTree.from_leaves(txids)
        inclusions = tuple(TxInclusion(txids[p], p, len(txids), tree.branch(p))
                           for p in relevant)
    return BlockScan(block.header.hash, block.header.prev_hash, len(block.transactions),
                     tuple(credits), tuple(debits), inclusions)
