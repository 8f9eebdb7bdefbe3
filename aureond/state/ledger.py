"""The ledger: what the watched scripts own, block by block, with undo records.

State is a function of the best chain: applying blocks ``b..t`` to an empty ledger and
applying ``b..t+k`` then undoing ``k`` give the same ledger. Each :meth:`Ledger.apply`
returns (and keeps) an :class:`UndoRecord` holding exactly what the block changed;
:meth:`Ledger.undo` reverts the tip block with it. A reorg is undo down to the fork
point, then apply the new branch. Undo records are kept for the last ``max_undo``
blocks; a deeper reorg raises :class:`LedgerError` (restore an older snapshot).

Per script the ledger keeps its unspent coins and its history (credits and debits in
chain order), and per relevant transaction its merkle branch. A script is watched from
a height on (``watched[script]``); a script added with history below the tip is
scanned into a separate ledger from its birthday and merged with :meth:`Ledger.adopt`
once both stand on the same tip.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from aureond.chain.hashing import hash_to_display
from aureond.chain.tx import OutPoint
from aureond.state.errors import LedgerError
from aureond.state.scanner import BlockScan, Credit, Debit

__all__ = ["DEFAULT_MAX_UNDO", "BlockRef", "Coin", "Inclusion", "Ledger", "MoveKind",
           "Movement", "UndoRecord"]

#: Blocks of undo history kept: two days of blocks, far beyond any observed reorg.
DEFAULT_MAX_UNDO = 288


@dataclass(frozen=True, slots=True, order=True)
class BlockRef:
    """A block on the chain: height and wire-order hash."""

    height: int
    hash: bytes

    def __str__(self) -> str:
        return f"{self.height}:{hash_to_display(self.hash)}"


@dataclass(frozen=True, slots=True)
class Coin:
    """An output paying a watched script, created at ``height`` by the tx at ``pos``."""

    outpoint: OutPoint
    script: bytes
    value: int
    height: int
    pos: int


class MoveKind(StrEnum):
    CREDIT = "credit"
    DEBIT = "debit"


@dataclass(frozen=True, slots=True)
class Movement:
    """One history entry: ``txid`` (at ``height``, ``pos``) created or spent ``coin``."""

    kind: MoveKind
    txid: bytes
    height: int
    pos: int
    coin: Coin

    @property
    def sort_key(self) -> tuple[int, int, int, bytes, int]:
        """Chain order: block, position, spends before outputs, then the outpoint."""
        op = self.coin.outpoint
        return (self.height, self.pos, self.kind is MoveKind.CREDIT, op.txid, op.vout)


@dataclass(frozen=True, slots=True)
class Inclusion:
    """Where a relevant transaction sits: enough for an Electrum ``get_merkle`` proof."""

    txid: bytes
    block_hash: bytes
    height: int
    pos: int
    tx_count: int
    branch: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class UndoRecord:
    """What applying ``block`` changed, so it can be reverted exactly."""

    block: BlockRef
    prev_hash: bytes
    created: tuple[Coin, ...]
    spent: tuple[Coin, ...]
    txids: tuple[bytes, ...]
    """Transactions whose inclusion the block added."""

    @property
    def scripts(self) -> frozenset[bytes]:
        return frozenset(c.script for c in (*self.created, *self.spent))

    def without(self, scripts: frozenset[bytes]) -> UndoRecord:
        """This record with every change to ``scripts`` left out."""
        return UndoRecord(self.block, self.prev_hash,
                          tuple(c for c in self.created if c.script not in scripts),
                          tuple(c for c in self.spent if c.script not in scripts),
                          self.txids)

    def merged(self, other: UndoRecord) -> UndoRecord:
        return UndoRecord(self.block, self.prev_hash, self.created + other.created,
                          self.spent + other.spent,
                          tuple(dict.fromkeys(self.txids + other.txids)))


class Ledger:
    """Coins, history and branches of the watched scripts; see the module docstring."""

    def __init__(self, start: BlockRef | None = None, *,
                 max_undo: int = DEFAULT_MAX_UNDO) -> None:
        """An empty ledger whose first block must be the child of ``start`` (None:
        any block; give the parent of the lowest birthday's block)."""
        if max_undo < 1:
            raise ValueError("max_undo must be at least 1")
        self.max_undo = max_undo
        self.tip: BlockRef | None = start
        self._watched: dict[bytes, int] = {}
        self._coins: dict[OutPoint, Coin] = {}
        self._by_script: dict[bytes, dict[OutPoint, Coin]] = {}
        self._history: dict[bytes, list[Movement]] = {}
        self._inclusions: dict[bytes, Inclusion] = {}
        self._undo: deque[UndoRecord] = deque()
        self._versions: dict[bytes, int] = {}
        self._counter = 0

    # --- queries ------------------------------------------------------------------

    @property
    def watched(self) -> Mapping[bytes, int]:
        """Watched scripts and the first height each is scanned from."""
        return self._watched

    @property
    def coins(self) -> Mapping[OutPoint, Coin]:
        """Every unspent watched coin: the outpoints a block's inputs are checked against."""
        return self._coins

    @property
    def undo_depth(self) -> int:
        return len(self._undo)

    def coins_of(self, script: bytes) -> list[Coin]:
        return list(self._by_script.get(script, {}).values())

    def history_of(self, script: bytes) -> list[Movement]:
        return list(self._history.get(script, ()))

    def inclusion(self, txid: bytes) -> Inclusion | None:
        return self._inclusions.get(txid)

    @property
    def inclusions(self) -> Mapping[bytes, Inclusion]:
        return self._inclusions

    @property
    def undo_records(self) -> tuple[UndoRecord, ...]:
        """Oldest first."""
        return tuple(self._undo)

    def version(self, script: bytes) -> int:
        """A number that changes whenever the script's coins or history change."""
        return self._versions.get(script, 0)

    # --- watching -----------------------------------------------------------------

    def watch(self, script: bytes, from_height: int) -> None:
        """Watch ``script`` from ``from_height`` on, which must be above the tip.

        A script already watched from an equal or lower height is left as it is. One
        whose history lies at or below the tip needs a rescan: see :meth:`adopt`.
        """
        current = self._watched.get(script)
        if current is not None and current <= from_height:
            return
        if self.tip is not None and from_height <= self.tip.height:
            raise LedgerError(f"height {from_height} is at or below the tip "
                              f"{self.tip.height}: scan it in a separate ledger and adopt it")
        self._watched[script] = from_height

    def unwatch(self, scripts: Iterable[bytes]) -> None:
        """Stop watching ``scripts`` and forget their coins and history."""
        gone = frozenset(s for s in scripts if s in self._watched)
        if not gone:
            return
        for script in gone:
            del self._watched[script]
            for op in self._by_script.pop(script, {}):
                del self._coins[op]
            self._history.pop(script, None)
            self._bump(script)
        self._undo = deque(r.without(gone) for r in self._undo)

    # --- blocks -------------------------------------------------------------------

    def apply(self, height: int, scan: BlockScan) -> UndoRecord:
        """Apply the scan of the block at ``height``, which must extend the tip."""
        if self.tip is not None and (height != self.tip.height + 1
                                     or scan.prev_hash != self.tip.hash):
            raise LedgerError(f"block {height}:{hash_to_display(scan.block_hash)} does "
                              f"not extend the ledger's tip {self.tip}")
        created: list[Coin] = []
        spent: list[Coin] = []
        used: set[bytes] = set()
        events: list[tuple[int, int, OutPoint, Credit | Debit]] = [
            (c.pos, 1, c.outpoint, c) for c in scan.credits]
        events += [(d.pos, 0, d.outpoint, d) for d in scan.debits]
        events.sort(key=lambda e: (e[0], e[1], e[2].txid, e[2].vout))
        for pos, _, outpoint, item in events:
            if isinstance(item, Credit):
                start = self._watched.get(item.script)
                if start is None or start > height:
                    continue
                coin = Coin(outpoint, item.script, item.value, height, pos)
                self._add_coin(coin)
                self._record(Movement(MoveKind.CREDIT, outpoint.txid, height, pos, coin))
                created.append(coin)
                used.add(outpoint.txid)
            else:
                found = self._coins.get(outpoint)
                if found is None:
                    continue
                self._remove_coin(found)
                self._record(Movement(MoveKind.DEBIT, item.txid, height, pos, found))
                spent.append(found)
                used.add(item.txid)
        txids = []
        for inc in scan.inclusions:
            if inc.txid in used and inc.txid not in self._inclusions:
                self._inclusions[inc.txid] = Inclusion(inc.txid, scan.block_hash, height,
                                                       inc.pos, inc.tx_count, inc.branch)
                txids.append(inc.txid)
        record = UndoRecord(BlockRef(height, scan.block_hash), scan.prev_hash,
                            tuple(created), tuple(spent), tuple(txids))
        self.tip = record.block
        self._undo.append(record)
        while len(self._undo) > self.max_undo:
            self._undo.popleft()
        return record

    def undo(self) -> UndoRecord:
        """Revert the tip block; ``LedgerError`` when its undo record is gone."""
        if not self._undo or self.tip is None or self._undo[-1].block != self.tip:
            raise LedgerError(f"no undo record for the tip {self.tip}: the reorg is deeper "
                              f"than the {self.max_undo} blocks of undo history kept")
        record = self._undo.pop()
        height = record.block.height
        for script in record.scripts:
            moves = self._history.get(script)
            while moves and moves[-1].height == height:
                moves.pop()
            if moves is not None and not moves:
                del self._history[script]
        for coin in reversed(record.spent):
            self._add_coin(coin)
        for coin in record.created:
            self._remove_coin(coin)
        for txid in record.txids:
            self._inclusions.pop(txid, None)
        self.tip = BlockRef(height - 1, record.prev_hash)
        return record

    def undo_to(self, height: int) -> list[UndoRecord]:
        """Undo blocks until the tip is at ``height`` (a fork point); newest first."""
        out = []
        while self.tip is not None and self.tip.height > height:
            out.append(self.undo())
        return out

    def adopt(self, other: Ledger) -> None:
        """Take over ``other``'s scripts (a rescan that reached our tip), replacing ours."""
        if other.tip != self.tip:
            raise LedgerError(f"cannot adopt a ledger at {other.tip} into one at {self.tip}")
        scripts = frozenset(other.watched)
        self.unwatch(scripts)
        for script, start in other.watched.items():
            self._watched[script] = start
            self._bump(script)
        for coin in other.coins.values():
            self._add_coin(coin)
        for script, moves in other._history.items():
            self._history[script] = list(moves)
        for txid, inc in other.inclusions.items():
            self._inclusions.setdefault(txid, inc)
        theirs = {r.block.hash: r for r in other.undo_records}
        self._undo = deque(r.merged(theirs[r.block.hash]) if r.block.hash in theirs else r
                           for r in self._undo)

    def restore(self, tip: BlockRef, watched: Mapping[bytes, int], coins: Iterable[Coin],
                history: Iterable[Movement], inclusions: Iterable[Inclusion],
                undo: Iterable[UndoRecord]) -> None:
        """Load a state (from a snapshot) into this empty ledger."""
        if self._watched or self._coins or self._undo:
            raise LedgerError("restore needs an empty ledger")
        self.tip = tip
        self._watched = dict(watched)
        for coin in coins:
            self._add_coin(coin)
        for move in history:
            self._history.setdefault(move.coin.script, []).append(move)
        for moves in self._history.values():
            moves.sort(key=lambda m: m.sort_key)
        for inc in inclusions:
            self._inclusions[inc.txid] = inc
        self._undo = deque(undo)
        while len(self._undo) > self.max_undo:
            self._undo.popleft()
        for script in self._watched:
            self._bump(script)

    # --- internals ----------------------------------------------------------------

    def _bump(self, script: bytes) -> None:
        self._counter += 1
        self._versions[script] = self._counter

    def _add_coin(self, coin: Coin) -> None:
        self._coins[coin.outpoint] = coin
        self._by_script.setdefault(coin.script, {})[coin.outpoint] = coin
        self._bump(coin.script)

    def _remove_coin(self, coin: Coin) -> None:
        del self._coins[coin.outpoint]
        mine = self._by_script[coin.script]
        del mine[coin.outpoint]
        if not mine:
            del self._by_script[coin.script]
        self._bump(coin.script)

    def _record(self, move: Movement) -> None:
        self._history.setdefault(move.coin.script, []).append(move)
        self._bump(move.coin.script)
