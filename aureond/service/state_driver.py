"""The state driver: keeps the watched accounts' ledger on our best chain, live.

Start-up (:meth:`StateDriver.open`): load the accounts, restore the newest snapshot
whose anchor is on our best chain (corrupt, foreign or stale files are skipped with a
log line), and plan what is still missing: scripts the snapshot does not cover are
rescanned. Without a usable snapshot the ledger starts below the lowest birthday.

Block flow (:meth:`StateDriver.run`, one task): the ledger asks for the blocks of the
best chain above its tip, a bounded window at a time, through
:class:`~aureond.service.block_feed.BlockFeed` (the P2P core's block hook around a
:class:`~aureond.state.blockfetch.BlockFetcher`, which checks every block against the
header WE validated). Verified blocks are applied
strictly in height order; one that arrives early waits, and each is checked again
against our header at its height before it is applied. Heights below every watched
script's start need no download (an empty block to the ledger).

Reorgs: a tip change with reverted headers undoes the ledger (and a rescan) to the
fork point and cancels the blocks wanted above it; a reorg deeper than the undo
history restores the newest snapshot below the fork and replays. Before every step the
ledger's tip is checked to be on our best chain, so a missed notification still heals.

Accounts: a new account whose birthday lies above the ledger's tip is simply watched;
one with history at or below it is rescanned into a separate ledger that chases the
main one and is merged (:meth:`~aureond.state.ledger.Ledger.adopt`) when both stand on
the same tip. One rescan runs at a time; accounts added meanwhile join it when they
can, or wait for the next one. A deleted account's scripts are unwatched unless another
account still watches them. Accounts are saved atomically before they are answered.

Snapshots: every ``snapshot_every`` blocks, on demand and at a clean stop (when blocks
came since the last one), through
:class:`~aureond.service.state_snapshots.StateSnapshots`.

Account ids, labels and scripts never appear in logs above debug nor in metric labels.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog
from prometheus_client import CollectorRegistry

from aureond.chain.header import BlockHeader
from aureond.chain.tree import TipChanged
from aureond.clock import Clock, RandomSource
from aureond.errors import StoreError
from aureond.service.block_feed import BlockFeed
from aureond.service.state_chain import (
    NEVER,
    NO_HASH,
    BestChain,
    empty_scan,
    first_needed,
    fresh_ledger,
    meeting_height,
    on_chain,
    ref_at,
    tip_of,
)
from aureond.service.state_metrics import StateMetrics
from aureond.service.state_snapshots import StateSnapshots
from aureond.state.accounts import (
    Account,
    AccountRegistry,
    AccountState,
    account_state,
    new_account,
)
from aureond.state.blockfetch import MAX_BUFFERED, BlockFetcher, FetchedBlock
from aureond.state.errors import LedgerError, StateError
from aureond.state.ledger import DEFAULT_MAX_UNDO, BlockRef, Inclusion, Ledger
from aureond.state.networks import address_params
from aureond.state.scanner import scan_block
from aureond.state.snapshot import SnapshotInfo, restore_ledger
from aureond.state.store import StateStore
from aureond.state.view import ScanProgress

__all__ = ["APPLY_BATCH", "WANT_WINDOW", "StateDriver", "open_state"]

log = structlog.get_logger("aureond.state")

#: Blocks applied before the driver yields to the event loop.
APPLY_BATCH = 32
#: Blocks asked ahead of each ledger (the held-block buffer is bounded by it).
WANT_WINDOW = MAX_BUFFERED
#: Seconds between progress lines while the ledger or a rescan is behind.
PROGRESS_LOG_INTERVAL = 5.0
#: An empty ledger this many blocks below its first watched height jumps instead of
#: stepping through them one by one.
JUMP_MIN = 16


@dataclass(slots=True)
class _Rescan:
    ledger: Ledger
    from_height: int


class StateDriver:
    """Accounts, ledger, rescans and snapshots of the running node; see the module."""

    def __init__(self, *, network: str, chain: BestChain, store: StateStore,
                 feed: BlockFeed, clock: Clock, rng: RandomSource,
                 metrics: StateMetrics | None = None, snapshot_every: int = 144,
                 max_undo: int = DEFAULT_MAX_UNDO, window: int = WANT_WINDOW) -> None:
        if snapshot_every < 1 or window < 1:
            raise ValueError("snapshot_every and window must be at least 1")
        self.network = network
        self._chain = chain
        self._store = store
        self.feed = feed
        self._clock = clock
        self._rng = rng
        self._metrics = metrics
        self._snapshot_every = snapshot_every
        self._max_undo = max_undo
        self._window = window
        self.registry = AccountRegistry()
        self._ledger = Ledger(BlockRef(-1, NO_HASH), max_undo=max_undo)
        self._rescan: _Rescan | None = None
        self._queued: dict[bytes, int] = {}
        self._held: dict[int, FetchedBlock] = {}
        self._forks: list[int] = []
        self._since_snapshot = 0
        self._snapshots = StateSnapshots(network=network, chain=chain, store=store,
                                         clock=clock, metrics=metrics)
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._last_progress = -1e18
        self._opened = False
        feed.on_wake = self._wake.set

    # --- reads (the API's) ----------------------------------------------------------

    @property
    def ledger(self) -> Ledger:
        return self._ledger

    def accounts(self) -> Sequence[Account]:
        return sorted(self.registry, key=lambda a: a.id)

    def account_state(self, account_id: str) -> AccountState | None:
        account = self.registry.get(account_id)
        return None if account is None else account_state(account, self._ledger)

    def inclusion(self, txid: bytes) -> Inclusion | None:
        return self._ledger.inclusion(txid)

    def snapshots(self) -> Sequence[SnapshotInfo]:
        return self._snapshots.listing()

    def progress(self) -> ScanProgress:
        rescans = (self._rescan is not None) + bool(self._queued)
        height = tip_of(self._ledger).height
        return ScanProgress(height if height >= 0 else None, self._chain.tip_height, rescans,
                            self.feed.in_flight)

    def remaining_blocks(self) -> int:
        main = tip_of(self._ledger).height
        out = max(0, self._chain.tip_height - main)
        if self._rescan is not None:
            out += max(0, main - tip_of(self._rescan.ledger).height)
        return out

    # --- lifecycle ------------------------------------------------------------------

    async def open(self) -> None:
        """Load the accounts, restore the newest usable snapshot, plan the rescans."""
        self.registry = await asyncio.to_thread(self._store.load_accounts)
        snapshot = await self._snapshots.newest(None)
        if snapshot is not None:
            ledger, missing = restore_ledger(snapshot, self.registry, max_undo=self._max_undo)
            log.info("state.restored", height=snapshot.info.anchor.height,
                     accounts=len(self.registry), snapshot_accounts=snapshot.info.leaf_count,
                     scripts_to_rescan=len(missing))
        else:
            ledger = fresh_ledger(self._chain, self.registry.start_heights(),
                                  self._chain.tip_height, max_undo=self._max_undo)
            missing = {}
            log.info("state.started", accounts=len(self.registry),
                     from_height=tip_of(ledger).height + 1)
        self._ledger = ledger
        for script, start in missing.items():
            self._watch(script, start)
        self._start_rescan()
        await self._snapshots.refresh()
        self._opened = True
        self._update_metrics()

    async def run(self) -> None:
        """Apply blocks, follow reorgs, run rescans and take snapshots until cancelled."""
        if not self._opened:
            await self.open()
        while True:
            self._wake.clear()
            async with self._lock:
                busy = await self._step()
                if self._since_snapshot >= self._snapshot_every:
                    # A failure is logged and counted; the next try is N blocks on.
                    with contextlib.suppress(StateError):
                        await self._snapshot()
            if busy:
                await asyncio.sleep(0)
            else:
                await self._wake.wait()

    async def close(self) -> None:
        """Take a last snapshot when blocks were applied since the newest one (so the
        next start replays nothing), then wait for the write (atomic either way)."""
        if self._opened and self._since_snapshot > 0:
            async with self._lock:
                with contextlib.suppress(StateError):  # a failure is logged and counted
                    await self._snapshot()
        await self.snapshots_written()

    async def snapshots_written(self) -> None:
        """Wait for a snapshot being written, if one is."""
        await self._snapshots.close()

    def on_tip_changed(self, change: TipChanged) -> None:
        """The header chain's tip moved (a notification; called on the event loop)."""
        if change.is_reorg:
            self._forks.append(change.fork_height)
            self.feed.cancel_above(change.fork_height)
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    # --- accounts -------------------------------------------------------------------

    async def add_account(self, label: str, watch: Sequence[str], birthday: int) -> Account:
        """Validate, save, and start scanning a new account (StateError: refused)."""
        account = new_account(label, watch, birthday, address_params(self.network), self._rng)
        if (0 < birthday <= self._chain.tip_height
                and self._chain.header_at(birthday - 1) is None):
            raise StateError(f"birthday: height {birthday} lies below the first header "
                             "this node holds; choose a later birthday")
        async with self._lock:
            self.registry.add(account)
            try:
                await asyncio.to_thread(self._store.save_accounts, self.registry)
            except StoreError:
                self.registry.remove(account.id)
                raise
            for script in account.scripts:
                self._watch(script, birthday)
            self._start_rescan()
            self._update_metrics()
        log.debug("state.account_added", id=account.id, scripts=len(account.scripts),
                  birthday=birthday)
        log.info("state.account_added", accounts=len(self.registry))
        self._wake.set()
        return account

    async def delete_account(self, account_id: str) -> bool:
        async with self._lock:
            account = self.registry.remove(account_id)
            if account is None:
                return False
            try:
                await asyncio.to_thread(self._store.save_accounts, self.registry)
            except StoreError:
                self.registry.add(account)
                raise
            orphans = [s for s in account.scripts if self.registry.start_height(s) is None]
            self._ledger.unwatch(orphans)
            for script in orphans:
                self._queued.pop(script, None)
            if self._rescan is not None:
                self._rescan.ledger.unwatch(orphans)
                if not self._rescan.ledger.watched:
                    self._rescan = None
                    self._start_rescan()
            self._update_metrics()
        log.debug("state.account_deleted", id=account_id)
        log.info("state.account_deleted", accounts=len(self.registry))
        return True

    def _watch(self, script: bytes, start: int) -> None:
        """Have ``script`` scanned from ``start``: by the ledger, the rescan, or queued."""
        main = self._ledger
        current = main.watched.get(script)
        if current is not None and current <= start:
            return
        if start > tip_of(main).height:
            main.watch(script, start)
            return
        rescan = self._rescan
        if rescan is not None:
            have = rescan.ledger.watched.get(script)
            if have is not None and have <= start:
                return
            if start > tip_of(rescan.ledger).height:
                rescan.ledger.watch(script, start)
                return
        self._queued[script] = min(start, self._queued.get(script, start))

    def _start_rescan(self) -> None:
        if self._rescan is not None or not self._queued:
            return
        queued, self._queued = self._queued, {}
        top = tip_of(self._ledger).height
        rest = {}
        for script, start in queued.items():
            if start > top:
                self._ledger.watch(script, start)
            else:
                rest[script] = start
        if not rest:
            return
        ledger = fresh_ledger(self._chain, rest, top, max_undo=self._max_undo)
        self._rescan = _Rescan(ledger, tip_of(ledger).height + 1)
        log.info("state.rescan.started", scripts=len(rest), from_height=tip_of(ledger).height + 1,
                 to_height=top)

    # --- snapshots ------------------------------------------------------------------

    async def take_snapshot(self) -> SnapshotInfo:
        """A snapshot at the ledger's tip now (StateError: nothing to anchor it to)."""
        async with self._lock:
            return await self._snapshot()

    async def _snapshot(self) -> SnapshotInfo:
        """Take a snapshot at the ledger's tip; the caller holds the lock."""
        main = self._ledger
        if tip_of(main).height < 0:
            raise StateError("no block scanned yet: nothing to anchor a snapshot to")
        self._since_snapshot = 0
        return await self._snapshots.take(self.registry, main)

    # --- the block flow -------------------------------------------------------------

    async def _step(self) -> bool:
        """One round: reorgs, new blocks, rescans, requests. True when more is ready."""
        await self._settle()
        self._collect()
        applied = self._advance()
        self._request()
        self._update_metrics()
        self._log_progress()
        return applied >= APPLY_BATCH or self._since_snapshot >= self._snapshot_every

    async def _settle(self) -> None:
        """Undo what left our best chain; rebuild when the undo history is too short.

        Besides the notified forks, a ledger whose tip is no longer on our best chain
        (a notification missed) is undone to where its history meets the chain.
        """
        forks, self._forks = self._forks, []
        main = self._ledger
        rescan = self._rescan
        for ledger in (main, rescan.ledger if rescan is not None else None):
            if ledger is not None and not on_chain(self._chain, tip_of(ledger)):
                forks.append(meeting_height(self._chain, ledger))
        if not forks:
            return
        fork = min(forks)
        for height in [h for h in self._held if h > fork]:
            del self._held[height]
        self.feed.cancel_above(fork)
        depth = tip_of(main).height - fork
        if depth > 0:
            try:
                main.undo_to(fork)
            except LedgerError as exc:
                log.warning("state.reorg.beyond_undo", fork_height=fork, error=str(exc))
                await self._rebuild(fork)
                return
            if self._metrics is not None:
                self._metrics.undone.inc(depth)
            log.info("state.reorg", fork_height=fork, undone=depth)
        if rescan is not None and tip_of(rescan.ledger).height > fork:
            try:
                rescan.ledger.undo_to(fork)
            except LedgerError:
                self._restart_rescan()

    def _restart_rescan(self) -> None:
        rescan, self._rescan = self._rescan, None
        if rescan is not None:
            for script, start in rescan.ledger.watched.items():
                self._queued[script] = min(start, self._queued.get(script, start))
        self._start_rescan()

    async def _rebuild(self, fork: int) -> None:
        """Restart the ledger from the newest snapshot below ``fork`` (or from scratch)."""
        self._rescan = None
        self._queued.clear()
        self._held.clear()
        starts = self.registry.start_heights()
        snapshot = None
        if min(starts.values(), default=NEVER) <= fork:
            snapshot = await self._snapshots.newest(fork + 1)
        if snapshot is not None:
            ledger, missing = restore_ledger(snapshot, self.registry, max_undo=self._max_undo)
        else:
            ledger = fresh_ledger(self._chain, starts, min(fork, self._chain.tip_height),
                                  max_undo=self._max_undo)
            missing = {}
        self._ledger = ledger
        for script, start in missing.items():
            self._watch(script, start)
        self._start_rescan()
        log.warning("state.rebuilt", fork_height=fork, from_height=tip_of(ledger).height,
                    from_snapshot=snapshot is not None)

    def _collect(self) -> None:
        """Take verified blocks from the feed; keep the ones still on our best chain."""
        floor = self._floor()
        for fetched in self.feed.take():
            header = self._chain.header_at(fetched.height)
            if (fetched.height > floor and header is not None
                    and header.hash == fetched.block.header.hash):
                self._held[fetched.height] = fetched

    def _floor(self) -> int:
        """Every block at or below this height has been applied by every ledger."""
        floor = tip_of(self._ledger).height
        if self._rescan is not None:
            floor = min(floor, tip_of(self._rescan.ledger).height)
        return floor

    def _advance(self) -> int:
        """Apply up to ``APPLY_BATCH`` blocks in height order, stopping where a snapshot
        is due; adopt a finished rescan."""
        applied = 0
        while applied < APPLY_BATCH and self._since_snapshot < self._snapshot_every:
            moved = False
            rescan = self._rescan
            if rescan is not None:
                if tip_of(rescan.ledger).height < tip_of(self._ledger).height:
                    moved = self._apply_next(rescan.ledger, tip_of(self._ledger).height)
                if tip_of(rescan.ledger) == tip_of(self._ledger):
                    self._adopt(rescan)
                    moved = True
                elif tip_of(rescan.ledger).height > tip_of(self._ledger).height:
                    self._restart_rescan()
            self._jump_if_idle()
            if self._apply_next(self._ledger, self._chain.tip_height):
                moved = True
                self._since_snapshot += 1
            if not moved:
                break
            applied += 1
        floor = self._floor()
        for height in [h for h in self._held if h <= floor]:
            del self._held[height]
        return applied

    def _adopt(self, rescan: _Rescan) -> None:
        self._ledger.adopt(rescan.ledger)
        self._rescan = None
        log.info("state.rescan.done", scripts=len(rescan.ledger.watched),
                 from_height=rescan.from_height, height=tip_of(self._ledger).height)
        self._start_rescan()

    def _jump_if_idle(self) -> None:
        """An empty main ledger far below its first watched height jumps up to it."""
        main = self._ledger
        tip = tip_of(main).height
        target = min(first_needed(main) - 1, self._chain.tip_height)
        if target - tip < JUMP_MIN or main.coins:
            return
        jumped = Ledger(ref_at(self._chain, target), max_undo=self._max_undo)
        for script, start in main.watched.items():
            jumped.watch(script, start)
        self._ledger = jumped

    def _apply_next(self, ledger: Ledger, limit: int) -> bool:
        height = tip_of(ledger).height + 1
        if height > limit:
            return False
        header = self._chain.header_at(height)
        if header is None:
            return False
        if height < first_needed(ledger):
            ledger.apply(height, empty_scan(header))
            return True
        fetched = self._held.get(height)
        if fetched is None:
            return False
        if fetched.block.header.hash != header.hash:
            del self._held[height]
            return False
        scan = scan_block(fetched.block, ledger.watched.keys(), ledger.coins.keys())
        try:
            ledger.apply(height, scan)
        except LedgerError:
            return False  # our tip left the chain: the next step settles it
        if self._metrics is not None:
            self._metrics.blocks.inc()
        return True

    def _request(self) -> None:
        """Ask for the next window of blocks; the ledger first, then a rescan (only
        while the ledger waits for nothing, so a rescan never delays new blocks)."""
        wants = self._wants_of(self._ledger, self._chain.tip_height)
        if not wants and self._rescan is not None:
            wants = self._wants_of(self._rescan.ledger, tip_of(self._ledger).height)
        if wants:
            self.feed.want(wants)

    def _wants_of(self, ledger: Ledger, limit: int) -> list[tuple[int, BlockHeader]]:
        wants = []
        start = max(tip_of(ledger).height + 1, first_needed(ledger))
        for height in range(start, min(limit, start + self._window - 1) + 1):
            if height in self._held:
                continue
            header = self._chain.header_at(height)
            if header is None:
                break
            wants.append((height, header))
        return wants

    # --- reporting ------------------------------------------------------------------

    def _update_metrics(self) -> None:
        m = self._metrics
        if m is None:
            return
        m.height.set(tip_of(self._ledger).height)
        m.remaining.set(self.remaining_blocks())
        m.accounts.set(len(self.registry))
        m.scripts.set(len(self.registry.scripts()))

    def _log_progress(self) -> None:
        remaining = self.remaining_blocks()
        now = self._clock.monotonic()
        if remaining <= 1 or now - self._last_progress < PROGRESS_LOG_INTERVAL:
            return
        self._last_progress = now
        rescan = self._rescan
        log.info("state.scan.progress", height=tip_of(self._ledger).height,
                 target_height=self._chain.tip_height, remaining_blocks=remaining,
                 rescan_height=tip_of(rescan.ledger).height if rescan is not None else None,
                 blocks_in_flight=self.feed.in_flight)


async def open_state(*, directory: Path, network: str, chain: BestChain, clock: Clock,
                     rng: RandomSource, registry: CollectorRegistry, ban_seconds: int,
                     snapshot_every: int, keep_snapshots: int) -> StateDriver:
    """The node's state driver over ``directory``, opened (accounts and snapshot loaded)."""
    store = await asyncio.to_thread(StateStore, directory, network, keep=keep_snapshots)
    feed = BlockFeed(BlockFetcher(ban_seconds=ban_seconds))
    driver = StateDriver(network=network, chain=chain, store=store, feed=feed, clock=clock,
                         rng=rng, metrics=StateMetrics(registry),
                         snapshot_every=snapshot_every)
    await driver.open()
    return driver
