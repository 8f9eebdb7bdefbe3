"""Where a state ledger stands on our validated best chain.

The state layer reads the header chain through :class:`BestChain` only. The helpers
here answer the questions the state driver and its snapshots ask of a ledger against
that chain: its tip, whether a block is still on the chain, where a ledger's history
meets it, and the empty ledger to start a scan from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from aureond.chain.header import BlockHeader
from aureond.state.errors import LedgerError
from aureond.state.ledger import BlockRef, Ledger
from aureond.state.scanner import BlockScan

__all__ = ["NEVER", "NO_HASH", "BestChain", "empty_scan", "first_needed", "fresh_ledger",
           "meeting_height", "on_chain", "ref_at", "tip_of"]

#: The hash of the reference block below height 0.
NO_HASH = bytes(32)
#: A height above any chain's (the start of nothing).
NEVER = 1 << 62


class BestChain(Protocol):
    """What the state layer reads of the validated header chain (``HeaderChain``)."""

    @property
    def tip_height(self) -> int: ...

    def header_at(self, height: int) -> BlockHeader | None: ...


def tip_of(ledger: Ledger) -> BlockRef:
    tip = ledger.tip
    if tip is None:  # every ledger here starts from a reference block
        raise LedgerError("a state ledger without a start block")
    return tip


def first_needed(ledger: Ledger) -> int:
    return min(ledger.watched.values(), default=NEVER)


def empty_scan(header: BlockHeader) -> BlockScan:
    return BlockScan(header.hash, header.prev_hash, 0, (), (), ())


def on_chain(chain: BestChain, ref: BlockRef) -> bool:
    if ref.height < 0:
        return ref.hash == NO_HASH
    header = chain.header_at(ref.height)
    return header is not None and header.hash == ref.hash


def ref_at(chain: BestChain, height: int) -> BlockRef:
    if height < 0:
        return BlockRef(-1, NO_HASH)
    header = chain.header_at(height)
    if header is None:
        raise LedgerError(f"no header at height {height} on our best chain")
    return BlockRef(height, header.hash)


def fresh_ledger(chain: BestChain, starts: Mapping[bytes, int], ceiling: int, *,
                 max_undo: int) -> Ledger:
    """An empty ledger below the lowest start (at most ``ceiling``) watching ``starts``."""
    base = min([ceiling, *(h - 1 for h in starts.values())])
    ledger = Ledger(ref_at(chain, base), max_undo=max_undo)
    for script, start in starts.items():
        ledger.watch(script, start)
    return ledger


def meeting_height(chain: BestChain, ledger: Ledger) -> int:
    """The highest height where ``ledger``'s history meets our best chain; below its
    undo history when none of it does (undoing to there fails: rebuild)."""
    records = ledger.undo_records
    for record in reversed(records):
        parent = BlockRef(record.block.height - 1, record.prev_hash)
        if on_chain(chain, parent):
            return parent.height
    return tip_of(ledger).height - len(records) - 1
