"""The node's header chain: the in-memory header tree on top of the on-disk store.

The tree (``aureond.chain.tree``) validates and does fork choice over a bounded window
of recent headers; the store (``aureond.store``) keeps every header of the best chain
on disk. ``HeaderChain.add`` validates a run of raw headers, and when the best tip
moves it writes the change through to the store: a reorg truncates the store to the
fork point, then the connected headers are appended. The store is always a prefix of
the tree's best chain plus the tree's window; nothing unvalidated reaches it.

On open, a deep reorg that a crash interrupted is finished first (``store.forkfile``),
then the tree is rebuilt from the stored tail: its root is the newest retarget boundary
at least ``window`` headers below the stored tip (or the anchor), and the headers above
the root are validated again, which also proves the stored tail. The clock plays no
part in that: a stored header is never judged again by "now".

Deep forks: a branch forking off the stored chain below the tree is not the tree's
business. The sync layer proves its work first (``aureond.chain.presync``), writes it
to a side file (:meth:`open_fork`) and, once it has more work than our chain, makes it
the best chain with :meth:`commit_fork`, crash-safely.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Self

from aureond.caching import LRUCache
from aureond.chain.context import MTP_WINDOW, ChainContext, anchor_context
from aureond.chain.header import HEADER_SIZE, BlockHeader
from aureond.chain.locator import locator_heights
from aureond.chain.params import NetworkParams
from aureond.chain.target import work_from_bits
from aureond.chain.tree import AddResult, HeaderTree, Node, TipChanged
from aureond.clock import Clock
from aureond.errors import ChainError, StoreError
from aureond.p2p.interfaces import ForkWriter
from aureond.store.forkfile import ForkFile, RecoveryReport, apply_branch, finish, recover
from aureond.store.headers import HeaderStore
from aureond.store.policy import FsyncPolicy
from aureond.store.syncticket import SyncTicket
from aureond.wire import MAX_HEADERS_RESULTS

__all__ = ["Anchor", "HeaderChain", "stored_context"]

DEFAULT_CACHE_SIZE = 4096
DEFAULT_TREE_WINDOW = 8192
"""Heights kept in memory below the tip: one retarget period plus the reorg depth."""
RESERVE_AHEAD = 1 << 20
"""Headers above the tip a peer's claimed height can make the store prepare room for."""
NO_FUTURE_LIMIT = 1 << 62
"""The "now" stored headers are validated against on open: no future limit."""
RESERVE_PACE = 2
"""Blocks per target spacing a real chain may have found since our tip (``expect_height``)."""
RESERVE_SLACK = 2 * MAX_HEADERS_RESULTS
"""Headers a claim may run ahead of that pace: two ``headers`` batches."""
PRUNE_SLACK = 1024
"""Heights the tree may run past its window before it is pruned back (see HeaderTree)."""
_raw_of = attrgetter("raw")
_hash_of = attrgetter("hash")


@dataclass(frozen=True, slots=True)
class Anchor:
    """A trusted starting header (a checkpoint) and the chain work up to and including it."""

    header: BlockHeader
    height: int
    chainwork: int
    earlier_times: tuple[int, ...] = ()
    """The timestamps of up to 10 headers before the anchor, oldest first."""


class HeaderChain:
    """Validated headers, most-work fork choice, and durable storage of the best chain."""

    def __init__(self, params: NetworkParams, store: HeaderStore, tree: HeaderTree, *,
                 anchor: Anchor | None = None, window: int = DEFAULT_TREE_WINDOW,
                 cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self.params = params
        self.store = store
        self._tree = tree
        self._anchor = anchor if anchor is not None else Anchor(
            params.genesis, 0, work_from_bits(params.genesis.bits))
        self._window = window
        self.recovery = RecoveryReport(False, -1, 0, 0)
        # Lookups below the in-memory window go to disk; these caches absorb repeats
        # (API reads, proof checks). A reorg clears them.
        self.header_cache: LRUCache[int, BlockHeader] = LRUCache(cache_size, name="headers")
        self.height_cache: LRUCache[bytes, int] = LRUCache(cache_size, name="heights")
        # With ``deferred_writes`` the caller drains accepted headers to the store in
        # small chunks (``write_pending``) so a 2,000-header batch never holds the event
        # loop for the whole disk write; the tree's window keeps them readable meanwhile.
        self.deferred_writes = False
        self._pending: deque[_Write] = deque()
        self._pending_count = 0
        self._expected = -1  # the highest height a peer claimed (expect_height)
        self._reserved = -1  # the height the store was last prepared for
        self._max_pending = max(1, tree.window // 2) if tree.window else 1024

    # --- opening ------------------------------------------------------------------

    @classmethod
    def open(cls, params: NetworkParams, directory: Path | str, *,
             anchor: Anchor | None = None, fsync_policy: FsyncPolicy | None = None,
             clock: Clock | None = None,
             window: int = DEFAULT_TREE_WINDOW) -> Self:
        """Open the store in ``directory`` (healing a torn tail, finishing an interrupted
        deep reorg) and rebuild the tree."""
        if anchor is None:
            anchor = Anchor(params.genesis, 0, work_from_bits(params.genesis.bits))
        anchor_context(params, anchor.header, anchor.height, anchor.chainwork,
                       anchor.earlier_times)  # checks it
        if fsync_policy is None:
            fsync_policy = FsyncPolicy() if clock is not None else FsyncPolicy(
                every_seconds=None)
        store = HeaderStore.open(directory, network_id=params.name,
                                 genesis_or_anchor=anchor.header,
                                 anchor_height=anchor.height,
                                 anchor_chainwork=anchor.chainwork,
                                 fsync_policy=fsync_policy, clock=clock)
        try:
            recovery = recover(store)
            tree = cls._rebuild_tree(params, store, anchor, window)
        except BaseException:
            store.close()
            raise
        chain = cls(params, store, tree, anchor=anchor, window=window)
        chain.recovery = recovery
        return chain

    @staticmethod
    def _rebuild_tree(params: NetworkParams, store: HeaderStore, anchor: Anchor,
                      window: int) -> HeaderTree:
        interval = params.retarget_interval
        tip = store.tip_height
        root_height = max(anchor.height, tip - window)
        if root_height > anchor.height and not params.no_retargeting:
            root_height -= root_height % interval
            root_height = max(root_height, anchor.height)
        if root_height == anchor.height:
            root_ctx = anchor_context(params, anchor.header, anchor.height, anchor.chainwork,
                                      anchor.earlier_times)
            root_raw = anchor.header.serialize()
        else:
            root_ctx = stored_context(params, store, anchor, root_height)
            root_raw = _raw(store, root_height)
        tree = HeaderTree(params, root_ctx, root_raw,
                          window=max(window, interval + MTP_WINDOW), prune_slack=PRUNE_SLACK)
        if tip > root_height:
            raw = b"".join(_raw(store, h) for h in range(root_height + 1, tip + 1))
            try:
                tree.add(raw, NO_FUTURE_LIMIT)
            except ChainError as exc:
                raise StoreError(
                    f"the stored headers in {store.directory} do not validate as "
                    f"{params.name} ({exc}); the directory belongs to another chain or "
                    "was damaged: move it away and resync") from exc
        return tree

    # --- the tip ------------------------------------------------------------------

    @property
    def tip_height(self) -> int:
        return self._tree.tip.height

    @property
    def tip_hash(self) -> bytes:
        return self._tree.tip.hash

    @property
    def tip_chainwork(self) -> int:
        return self._tree.tip.chainwork

    @property
    def tip_time(self) -> int:
        return self._tree.tip.time

    @property
    def tip_context(self) -> ChainContext:
        return self._tree.tip_context

    @property
    def tree(self) -> HeaderTree:
        return self._tree

    # --- queries ------------------------------------------------------------------

    def contains(self, block_hash: bytes) -> bool:
        return block_hash in self._tree or self.store.height_of(block_hash) is not None

    def height_of(self, block_hash: bytes) -> int | None:
        """Height of ``block_hash`` on the best chain, or None (unknown or side branch)."""
        node = self._tree.get(block_hash)
        if node is not None:
            return node.height if self._tree.on_best_chain(block_hash) else None
        height = self.height_cache.get(block_hash)
        if height is None:
            height = self.store.height_of(block_hash)
            if height is not None:
                self.height_cache.put(block_hash, height)
        return height

    def hash_at(self, height: int) -> bytes | None:
        node = self._tree.best_at(height)
        return node.hash if node is not None else self.store.hash_at(height)

    def header_at(self, height: int) -> BlockHeader | None:
        node = self._tree.best_at(height)
        if node is not None:
            return node.header
        header = self.header_cache.get(height)
        if header is None:
            header = self.store.header_at(height)
            if header is not None:
                self.header_cache.put(height, header)
        return header

    def chainwork_at(self, height: int) -> int | None:
        node = self._tree.best_at(height)
        return node.chainwork if node is not None else self.store.chainwork_at(height)

    def fork_point(self, block_hash: bytes) -> int | None:
        """The height of ``block_hash`` when it is on the stored best chain below the
        tree (a deep fork point), else None."""
        if block_hash in self._tree:
            return None
        height = self.store.height_of(block_hash)
        if height is None or height >= self._tree.base_height:
            return None
        return height

    def context_at(self, height: int) -> ChainContext:
        """The validation context with the best-chain header at ``height`` as tip."""
        node = self._tree.best_at(height)
        if node is not None:
            return self._tree.context_of(node.hash)
        self.write_pending()
        return stored_context(self.params, self.store, self._anchor, height)

    def locator(self) -> list[bytes]:
        """A ``getheaders`` locator: dense near the tip, doubling steps, ending at the anchor."""
        heights = locator_heights(self.tip_height, self.store.anchor_height)
        out: list[bytes] = []
        for h in heights:
            block_hash = self.hash_at(h)
            if block_hash is not None:
                out.append(block_hash)
        return out

    # --- changing -----------------------------------------------------------------

    def add(self, raw_headers: bytes, now: int) -> AddResult:
        """Validate connected raw headers and write a tip change through to the store.

        Raises ``HeaderRejectedError``, ``UnconnectedHeadersError`` or
        ``EncodingError`` (nothing changes), or ``StoreError`` (the disk failed; the
        store heals on the next open).
        """
        result = self._tree.add(raw_headers, now)
        if isinstance(result, TipChanged):
            self._persist(result)
        return result

    def _persist(self, change: TipChanged) -> None:
        if change.reverted:
            self.header_cache.clear()
            self.height_cache.clear()
        self._pending.append(_Write(change.fork_height if change.reverted else None,
                                    list(change.connected)))
        self._pending_count += len(change.connected)
        if not self.deferred_writes or self._pending_count > self._max_pending:
            self.write_pending()

    @property
    def pending_writes(self) -> int:
        """Headers accepted into the tree and not yet written to the store."""
        return self._pending_count

    def expect_height(self, height: int, now: float) -> None:
        """A peer says the chain reaches ``height``: the store's hash table is sized
        for it at the next write (while it is small, so one cheap rebuild replaces the
        doublings that would stall the loop later). The claim may be a lie, so it is
        capped twice: at what a real chain can have grown since our tip's timestamp
        (``RESERVE_PACE`` blocks per target spacing until ``now``, plus
        ``RESERVE_SLACK``), and at ``RESERVE_AHEAD`` above the stored tip. Call it once
        the peer has delivered valid headers, not on its word alone. Under-sizing only
        costs doublings later."""
        elapsed = max(0.0, now - self.tip_time)
        reachable = (self.tip_height + RESERVE_SLACK
                     + RESERVE_PACE * int(elapsed // self.params.target_spacing))
        self._expected = max(self._expected, min(height, reachable,
                                                 self.store.tip_height + RESERVE_AHEAD))

    def write_pending(self, limit: int | None = None) -> int:
        """Write up to ``limit`` pending headers (all when None) to the store, in
        order; returns how many are still pending. Raises ``StoreError``."""
        if self._expected > self._reserved:
            self._reserved = self._expected
            self.store.reserve(self._expected - self.store.anchor_height + 1)
        budget = self._pending_count if limit is None else limit
        while self._pending and budget > 0:
            write = self._pending[0]
            if write.truncate_to is not None:
                self.store.truncate(write.truncate_to)
                write.truncate_to = None
            nodes = write.nodes
            if self.store.tip_hash != nodes[0].prev_hash:
                # The store lags only if an earlier write failed; re-align to the tree.
                self.store.truncate(nodes[0].height - 1)
            chunk, write.nodes = nodes[:budget], nodes[budget:]
            self.store.append_run(b"".join(map(_raw_of, chunk)), list(map(_hash_of, chunk)))
            self._pending_count -= len(chunk)
            budget -= len(chunk)
            if not write.nodes:
                self._pending.popleft()
        return self._pending_count

    def flush(self) -> None:
        """Write everything pending and fsync the store."""
        self.write_pending()
        self.store.flush()

    def begin_sync(self) -> SyncTicket:
        """Write everything pending and start an fsync that may run off this thread
        (``ticket.fsync()``); then :meth:`finish_sync` (see ``SyncTicket``)."""
        self.write_pending()
        return self.store.begin_sync()

    def finish_sync(self, ticket: SyncTicket) -> bool:
        return self.store.finish_sync(ticket)

    # --- deep forks ----------------------------------------------------------------

    def open_fork(self, name: str, fork_height: int) -> ForkFile:
        """A side file for a branch forking off the best chain at ``fork_height``."""
        fork_hash = self.hash_at(fork_height)
        if fork_hash is None:
            raise StoreError(f"no header at height {fork_height} to fork from")
        return ForkFile(self.store.directory, name, fork_height, fork_hash)

    def commit_fork(self, fork: ForkWriter) -> TipChanged:
        """Make the branch in ``fork`` (from :meth:`open_fork`) the best chain (the
        caller checked that it has more work); crash-safe (see
        ``aureond.store.forkfile``). Raises ``StoreError``."""
        if not isinstance(fork, ForkFile):
            raise TypeError("commit_fork takes a fork from open_fork")
        self.write_pending()
        if self.hash_at(fork.fork_height) != fork.fork_hash:
            fork.discard()
            raise StoreError("the fork point is no longer on the best chain")
        reverted = tuple(reversed(self._stored_nodes(fork.fork_height + 1,
                                                     self.store.tip_height + 1)))
        fork.commit()
        apply_branch(self.store, fork.fork_height, fork.headers())
        finish(self.store.directory, fork)
        self.header_cache.clear()
        self.height_cache.clear()
        self._tree = self._rebuild_tree(self.params, self.store, self._anchor, self._window)
        connected = self._stored_nodes(fork.fork_height + 1, self.store.tip_height + 1)
        return TipChanged(reverted, tuple(connected), self._tree.tip)

    def _stored_nodes(self, start: int, stop: int) -> list[Node]:
        out: list[Node] = []
        for h in range(start, stop):
            raw = _raw(self.store, h)
            work = self.store.chainwork_at(h)
            block_hash = self.store.hash_at(h)
            if work is None or block_hash is None:
                raise StoreError(f"{self.store.directory}: header {h} is missing")
            out.append(Node(raw, block_hash, h, work))
        return out

    def close(self) -> None:
        try:
            self.write_pending()
        finally:
            self.store.close()


@dataclass(slots=True)
class _Write:
    """A tip change still to be written: truncate first (a reorg), then append."""

    truncate_to: int | None
    nodes: list[Node]


def _raw(store: HeaderStore, height: int) -> bytes:
    raw = store.raw_at(height)
    if raw is None or len(raw) != HEADER_SIZE:
        raise StoreError(f"{store.directory}: header at height {height} is missing")
    return raw


def stored_context(params: NetworkParams, store: HeaderStore, anchor: Anchor,
                   height: int) -> ChainContext:
    """The validation context at a stored best-chain ``height``, from the store alone."""
    if height == anchor.height:
        return anchor_context(params, anchor.header, anchor.height, anchor.chainwork,
                              anchor.earlier_times)
    raw = _raw(store, height)
    tip = BlockHeader.parse(raw)
    chainwork = store.chainwork_at(height)
    if chainwork is None:
        raise StoreError(f"{store.directory}: chain work at height {height} is missing")
    first = max(anchor.height, height - (MTP_WINDOW - 1))
    times = tuple(_time(store, h) for h in range(first, height + 1))
    if len(times) < MTP_WINDOW and anchor.height > 0:
        times = (*anchor.earlier_times, *times)[-MTP_WINDOW:]
    interval = params.retarget_interval
    boundary = max(anchor.height, height - height % interval)
    period = tip if boundary == height else BlockHeader.parse(_raw(store, boundary))
    walk = tip.bits
    if params.allow_min_difficulty:
        # The bits of the latest header at a boundary or not at minimum difficulty.
        h, bits = height, tip.bits
        while h > boundary and bits == params.pow_limit_bits:
            h -= 1
            bits = int.from_bytes(_raw(store, h)[72:76], "little")
        walk = bits
    if boundary - 1 >= anchor.height:
        before: int | None = _time(store, boundary - 1)
    else:
        before = anchor.earlier_times[-1] if anchor.earlier_times else None
    return ChainContext(height, tip.hash, tip.time, tip.bits, chainwork, times,
                        period.time, period.bits, walk, before)


def _time(store: HeaderStore, height: int) -> int:
    return int.from_bytes(_raw(store, height)[68:72], "little")
