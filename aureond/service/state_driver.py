"""The state driver: keeps the watched accounts' ledger on our best chain, live.

Start-up (:meth:`StateDriver.open`): load the accounts, restore the newest snapshot
whose anchor is on our best chain (corrupt, foreign or stale files are skipped with a
log line), and plan what is still missing: scripts the snapshot does not cover are
rescanned. Without a usable snapshot the ledger starts below the lowest birthday.

Block flow (:meth:`StateDriver.run`, one task): the ledger asks for the blocks of the
best chain above its tip, a bounded window at a time, through :class:`BlockFeed` (the
P2P core's block hook around a :class:`~aureond.state.blockfetch.BlockFetcher`, which
checks every block against the header WE validated). Verified blocks are applied
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

Snapshots: every ``snapshot_every`` blocks and on demand, built and written off the
event loop, atomically. Only accounts the ledger fully covers are committed (one still
being rescanned is left out rather than committed with an incomplete history).

Account ids, labels and scripts never appear in logs above debug nor in metric labels.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge

from aureond.chain.header import BlockHeader
from aureond.chain.tree import TipChanged
from aureond.clock import Clock, RandomSource
from aureond.errors import StoreError
from aureond.p2p.actions import Action
from aureond.p2p.events import PeerId
from aureond.state.accounts import (
    Account,
    AccountRegistry,
    AccountState,
    account_state,
    new_account,
)
from aureond.state.blockfetch import MAX_BUFFERED, BlockFetcher, FetchedBlock
from aureond.state.errors import LedgerError, SnapshotError, StateError
from aureond.state.ledger import DEFAULT_MAX_UNDO, BlockRef, Inclusion, Ledger
from aureond.state.networks import address_params
from aureond.state.scanner import BlockScan, scan_block
from aureond.state.snapshot import LeafCache, Snapshot, SnapshotInfo, build_snapshot, restore_ledger
from aureond.state.store import StateStore
from aureond.state.view import ScanProgress
from aureond.wire import Message

__all__ = ["APPLY_BATCH", "WANT_WINDOW", "BestChain", "BlockFeed", "StateDriver",
           "StateMetrics", "open_state"]

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
_NO_HASH = bytes(32)
_NEVER = 1 << 62


class BestChain(Protocol):
    """What the driver reads of the validated header chain (``HeaderChain``)."""

    @property
    def tip_height(self) -> int: ...

    def header_at(self, height: int) -> BlockHeader | None: ...


def _nothing() -> None:
    return None


class BlockFeed:
    """The block hook of the P2P core (``P2PProtocol(blocks=...)``) around a fetcher.

    The fetcher's :meth:`~BlockFetcher.want` returns requests, and the P2P driver only
    carries out what the core returns; so wants made outside the core are queued here
    and given to the fetcher on the core's next call into the hook (at the latest the
    next ``Tick``). Verified blocks are taken out of the fetcher as they arrive (they
    are bounded by the consumer's want window) and ``on_wake`` is called; it is also
    called on every tick, the consumer's heartbeat.
    """

    def __init__(self, fetcher: BlockFetcher, on_wake: Callable[[], None] = _nothing) -> None:
        self.fetcher = fetcher
        self.on_wake = on_wake
        self._queued: dict[bytes, tuple[int, BlockHeader]] = {}
        self._ready: list[FetchedBlock] = []

    # --- the consumer's side ------------------------------------------------------

    def want(self, items: Iterable[tuple[int, BlockHeader]]) -> None:
        for height, header in items:
            self._queued.setdefault(header.hash, (height, header))

    def cancel_above(self, height: int) -> None:
        self._queued = {k: v for k, v in self._queued.items() if v[0] <= height}
        self._ready = [f for f in self._ready if f.height <= height]
        self.fetcher.cancel_above(height)

    def take(self) -> list[FetchedBlock]:
        out, self._ready = self._ready, []
        return out

    @property
    def in_flight(self) -> int:
        return self.fetcher.in_flight

    # --- the P2P core's side ------------------------------------------------------

    def peer_ready(self, peer: PeerId, now: float) -> list[Action]:
        return self.fetcher.peer_ready(peer, now) + self._flush(now)

    def peer_gone(self, peer: PeerId, now: float) -> list[Action]:
        return self.fetcher.peer_gone(peer, now) + self._flush(now)

    def on_message(self, peer: PeerId, message: Message, now: float) -> list[Action]:
        out = self.fetcher.on_message(peer, message, now) + self._flush(now)
        got = self.fetcher.pop_ready()
        if got:
            self._ready.extend(got)
            self.on_wake()
        return out

    def tick(self, now: float) -> list[Action]:
        out = self._flush(now) + self.fetcher.tick(now)
        self._ready.extend(self.fetcher.pop_ready())
        self.on_wake()
        return out

    def _flush(self, now: float) -> list[Action]:
        if not self._queued:
            return []
        items = list(self._queued.values())
        self._queued.clear()
        return self.fetcher.want(items, now)


class StateMetrics:
    """The state layer's Prometheus metrics (no label carries user data)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.height = Gauge("aureond_state_height",
                            "Height of the state ledger's tip (last block scanned).",
                            registry=registry)
        self.remaining = Gauge("aureond_state_rescan_remaining_blocks",
                               "Blocks the ledger and any rescan still have to scan to "
                               "reach the header tip.", registry=registry)
        self.accounts = Gauge("aureond_state_accounts", "Watched accounts.",
                              registry=registry)
        self.scripts = Gauge("aureond_state_watched_scripts",
                             "Distinct scripts the accounts watch.", registry=registry)
        self.blocks = Counter("aureond_state_blocks_scanned",
                              "Full blocks scanned for the watched scripts.",
                              registry=registry)
        self.undone = Counter("aureond_state_blocks_undone",
                              "Ledger blocks undone by reorganisations.", registry=registry)
        self.snapshots = Counter("aureond_state_snapshots", "State snapshots written.",
                                 ["result"], registry=registry)
        self.snapshot_height = Gauge("aureond_state_snapshot_height",
                                     "Anchor height of the newest snapshot written.",
                                     registry=registry)
        self.snapshot_bytes = Gauge("aureond_state_snapshot_size_bytes",
                                    "Compressed size of the newest snapshot written.",
                                    registry=registry)
        for result in ("ok", "failed"):
            self.snapshots.labels(result)


@dataclass(slots=True)
class _Rescan:
    ledger: Ledger
    from_height: int


def _tip(ledger: Ledger) -> BlockRef:
    tip = ledger.tip
    if tip is None:  # every ledger here starts from a reference block
        raise LedgerError("a state ledger without a start block")
    return tip


def _first_needed(ledger: Ledger) -> int:
    return min(ledger.watched.values(), default=_NEVER)


def _empty_scan(header: BlockHeader) -> BlockScan:
    return BlockScan(header.hash, header.prev_hash, 0, (), (), ())


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
        self._ledger = Ledger(BlockRef(-1, _NO_HASH), max_undo=max_undo)
        self._rescan: _Rescan | None = None
        self._queued: dict[bytes, int] = {}
        self._held: dict[int, FetchedBlock] = {}
        self._forks: list[int] = []
        self._since_snapshot = 0
        self._snapshots: list[SnapshotInfo] = []
        self._cache = LeafCache()
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._writing: asyncio.Future[tuple[SnapshotInfo, list[SnapshotInfo]]] | None = None
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
        return tuple(self._snapshots)

    def progress(self) -> ScanProgress:
        rescans = (self._rescan is not None) + bool(self._queued)
        height = _tip(self._ledger).height
        return ScanProgress(height if height >= 0 else None, self._chain.tip_height, rescans,
                            self.feed.in_flight)

    def remaining_blocks(self) -> int:
        main = _tip(self._ledger).height
        out = max(0, self._chain.tip_height - main)
        if self._rescan is not None:
            out += max(0, main - _tip(self._rescan.ledger).height)
        return out

    # --- lifecycle ------------------------------------------------------------------

    async def open(self) -> None:
        """Load the accounts, restore the newest usable snapshot, plan the rescans."""
        self.registry = await asyncio.to_thread(self._store.load_accounts)
        snapshot = await self._newest_snapshot(None)
        if snapshot is not None:
            ledger, missing = restore_ledger(snapshot, self.registry, max_undo=self._max_undo)
            log.info("state.restored", height=snapshot.info.anchor.height,
                     accounts=len(self.registry), snapshot_accounts=snapshot.info.leaf_count,
                     scripts_to_rescan=len(missing))
        else:
            ledger = self._fresh(self.registry.start_heights(), self._chain.tip_height)
            missing = {}
            log.info("state.started", accounts=len(self.registry),
                     from_height=_tip(ledger).height + 1)
        self._ledger = ledger
        for script, start in missing.items():
            self._watch(script, start)
        self._start_rescan()
        self._snapshots = await asyncio.to_thread(self._list_snapshots)
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
        """Wait for a snapshot being written (the write is atomic either way)."""
        writing = self._writing
        if writing is not None and not writing.done():
            await asyncio.wait([writing])

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
        if start > _tip(main).height:
            main.watch(script, start)
            return
        rescan = self._rescan
        if rescan is not None:
            have = rescan.ledger.watched.get(script)
            if have is not None and have <= start:
                return
            if start > _tip(rescan.ledger).height:
                rescan.ledger.watch(script, start)
                return
        self._queued[script] = min(start, self._queued.get(script, start))

    def _start_rescan(self) -> None:
        if self._rescan is not None or not self._queued:
            return
        queued, self._queued = self._queued, {}
        top = _tip(self._ledger).height
        rest = {}
        for script, start in queued.items():
            if start > top:
                self._ledger.watch(script, start)
            else:
                rest[script] = start
        if not rest:
            return
        ledger = self._fresh(rest, top)
        self._rescan = _Rescan(ledger, _tip(ledger).height + 1)
        log.info("state.rescan.started", scripts=len(rest), from_height=_tip(ledger).height + 1,
                 to_height=top)

    # --- snapshots ------------------------------------------------------------------

    async def take_snapshot(self) -> SnapshotInfo:
        """A snapshot at the ledger's tip now (StateError: nothing to anchor it to)."""
        async with self._lock:
            return await self._snapshot()

    async def _snapshot(self) -> SnapshotInfo:
        """Build and write a snapshot off the loop; the caller holds the lock."""
        main = self._ledger
        if _tip(main).height < 0:
            raise StateError("no block scanned yet: nothing to anchor a snapshot to")
        self._since_snapshot = 0
        covered = AccountRegistry(
            [a for a in self.registry
             if all(main.watched.get(s, _NEVER) <= a.birthday for s in a.scripts)],
            max_accounts=self.registry.max_accounts)
        started = self._clock.monotonic()
        taken_at = int(self._clock.wall())
        self._writing = asyncio.ensure_future(
            asyncio.to_thread(self._write_snapshot, covered, main, taken_at))
        try:
            info, listing = await asyncio.shield(self._writing)
        except (StoreError, SnapshotError) as exc:
            if self._metrics is not None:
                self._metrics.snapshots.labels("failed").inc()
            log.error("state.snapshot.failed", height=_tip(main).height, error=str(exc))
            raise StateError(f"the snapshot could not be written: {exc}") from exc
        self._snapshots = listing
        if self._metrics is not None:
            self._metrics.snapshots.labels("ok").inc()
            self._metrics.snapshot_height.set(info.anchor.height)
            self._metrics.snapshot_bytes.set(info.compressed_size)
        log.info("state.snapshot.taken", height=info.anchor.height, accounts=info.leaf_count,
                 left_out=len(self.registry) - info.leaf_count, bytes=info.compressed_size,
                 ratio=round(info.ratio, 4),
                 seconds=round(self._clock.monotonic() - started, 3))
        return info

    def _write_snapshot(self, covered: AccountRegistry, ledger: Ledger,
                        taken_at: int) -> tuple[SnapshotInfo, list[SnapshotInfo]]:
        info, data = build_snapshot(self.network, covered, ledger, taken_at, self._cache)
        self._store.write_snapshot(info, data)
        return info, self._list_snapshots()

    def _list_snapshots(self) -> list[SnapshotInfo]:
        return [s.info for s in self._store.list_snapshots()]

    async def _newest_snapshot(self, below: int | None) -> Snapshot | None:
        """The newest valid snapshot on our best chain (below a height), read off the
        loop; which anchors are on the chain is decided here, on the loop."""
        listed = await asyncio.to_thread(self._store.list_snapshots)
        best: dict[int, bytes] = {}
        for stored in listed:
            header = self._chain.header_at(stored.info.anchor.height)
            if header is not None:
                best[stored.info.anchor.height] = header.hash

        def on_chain(ref: BlockRef) -> bool:
            return best.get(ref.height) == ref.hash

        return await asyncio.to_thread(self._store.newest_on_chain, on_chain, below)

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

    def _on_chain(self, ref: BlockRef) -> bool:
        if ref.height < 0:
            return ref.hash == _NO_HASH
        header = self._chain.header_at(ref.height)
        return header is not None and header.hash == ref.hash

    def _ref(self, height: int) -> BlockRef:
        if height < 0:
            return BlockRef(-1, _NO_HASH)
        header = self._chain.header_at(height)
        if header is None:
            raise LedgerError(f"no header at height {height} on our best chain")
        return BlockRef(height, header.hash)

    def _fresh(self, starts: Mapping[bytes, int], ceiling: int) -> Ledger:
        """An empty ledger below the lowest start (at most ``ceiling``) watching ``starts``."""
        base = min([ceiling, *(h - 1 for h in starts.values())])
        ledger = Ledger(self._ref(base), max_undo=self._max_undo)
        for script, start in starts.items():
            ledger.watch(script, start)
        return ledger

    async def _settle(self) -> None:
        """Undo what left our best chain; rebuild when the undo history is too short.

        Besides the notified forks, a ledger whose tip is no longer on our best chain
        (a notification missed) is undone to where its history meets the chain.
        """
        forks, self._forks = self._forks, []
        main = self._ledger
        rescan = self._rescan
        for ledger in (main, rescan.ledger if rescan is not None else None):
            if ledger is not None and not self._on_chain(_tip(ledger)):
                forks.append(self._meeting_height(ledger))
        if not forks:
            return
        fork = min(forks)
        for height in [h for h in self._held if h > fork]:
            del self._held[height]
        self.feed.cancel_above(fork)
        depth = _tip(main).height - fork
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
        if rescan is not None and _tip(rescan.ledger).height > fork:
            try:
                rescan.ledger.undo_to(fork)
            except LedgerError:
                self._restart_rescan()

    def _meeting_height(self, ledger: Ledger) -> int:
        """The highest height where ``ledger``'s history meets our best chain; below its
        undo history when none of it does (undoing to there fails: rebuild)."""
        records = ledger.undo_records
        for record in reversed(records):
            parent = BlockRef(record.block.height - 1, record.prev_hash)
            if self._on_chain(parent):
                return parent.height
        return _tip(ledger).height - len(records) - 1

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
        if min(starts.values(), default=_NEVER) <= fork:
            snapshot = await self._newest_snapshot(fork + 1)
        if snapshot is not None:
            ledger, missing = restore_ledger(snapshot, self.registry, max_undo=self._max_undo)
        else:
            ledger, missing = self._fresh(starts, min(fork, self._chain.tip_height)), {}
        self._ledger = ledger
        for script, start in missing.items():
            self._watch(script, start)
        self._start_rescan()
        log.warning("state.rebuilt", fork_height=fork, from_height=_tip(ledger).height,
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
        floor = _tip(self._ledger).height
        if self._rescan is not None:
            floor = min(floor, _tip(self._rescan.ledger).height)
        return floor

    def _advance(self) -> int:
        """Apply up to ``APPLY_BATCH`` blocks in height order, stopping where a snapshot
        is due; adopt a finished rescan."""
        applied = 0
        while applied < APPLY_BATCH and self._since_snapshot < self._snapshot_every:
            moved = False
            rescan = self._rescan
            if rescan is not None:
                if _tip(rescan.ledger).height < _tip(self._ledger).height:
                    moved = self._apply_next(rescan.ledger, _tip(self._ledger).height)
                if _tip(rescan.ledger) == _tip(self._ledger):
                    self._adopt(rescan)
                    moved = True
                elif _tip(rescan.ledger).height > _tip(self._ledger).height:
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
                 from_height=rescan.from_height, height=_tip(self._ledger).height)
        self._start_rescan()

    def _jump_if_idle(self) -> None:
        """An empty main ledger far below its first watched height jumps up to it."""
        main = self._ledger
        tip = _tip(main).height
        target = min(_first_needed(main) - 1, self._chain.tip_height)
        if target - tip < JUMP_MIN or main.coins:
            return
        jumped = Ledger(self._ref(target), max_undo=self._max_undo)
        for script, start in main.watched.items():
            jumped.watch(script, start)
        self._ledger = jumped

    def _apply_next(self, ledger: Ledger, limit: int) -> bool:
        height = _tip(ledger).height + 1
        if height > limit:
            return False
        header = self._chain.header_at(height)
        if header is None:
            return False
        if height < _first_needed(ledger):
            ledger.apply(height, _empty_scan(header))
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
            wants = self._wants_of(self._rescan.ledger, _tip(self._ledger).height)
        if wants:
            self.feed.want(wants)

    def _wants_of(self, ledger: Ledger, limit: int) -> list[tuple[int, BlockHeader]]:
        wants = []
        start = max(_tip(ledger).height + 1, _first_needed(ledger))
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
        m.height.set(_tip(self._ledger).height)
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
        log.info("state.scan.progress", height=_tip(self._ledger).height,
                 target_height=self._chain.tip_height, remaining_blocks=remaining,
                 rescan_height=_tip(rescan.ledger).height if rescan is not None else None,
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
