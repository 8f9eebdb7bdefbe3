"""The running node's state snapshots: taken, listed, and found again to restore.

A snapshot is built and written off the event loop, atomically. Only accounts the
ledger fully covers are committed (one still being rescanned is left out rather than
committed with an incomplete history). To restore, the newest valid snapshot whose
anchor is on our best chain is read; which anchors are on the chain is decided on the
event loop, the files are read off it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog

from aureond.clock import Clock
from aureond.errors import StoreError
from aureond.service.state_chain import NEVER, BestChain, tip_of
from aureond.service.state_metrics import StateMetrics
from aureond.state.accounts import AccountRegistry
from aureond.state.errors import SnapshotError, StateError
from aureond.state.ledger import BlockRef, Ledger
from aureond.state.snapshot import LeafCache, Snapshot, SnapshotInfo, build_snapshot
from aureond.state.store import StateStore

__all__ = ["StateSnapshots"]

log = structlog.get_logger("aureond.state")


class StateSnapshots:
    """The snapshots of one state store, as the state driver takes and restores them."""

    def __init__(self, *, network: str, chain: BestChain, store: StateStore, clock: Clock,
                 metrics: StateMetrics | None = None) -> None:
        self.network = network
        self._chain = chain
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self._listing: list[SnapshotInfo] = []
        self._cache = LeafCache()
        self._writing: asyncio.Future[tuple[SnapshotInfo, list[SnapshotInfo]]] | None = None

    def listing(self) -> Sequence[SnapshotInfo]:
        """The snapshots in the store as last listed (on opening and after each write)."""
        return tuple(self._listing)

    async def refresh(self) -> None:
        """List the store's snapshots again, off the loop."""
        self._listing = await asyncio.to_thread(self._list)

    async def close(self) -> None:
        """Wait for a snapshot being written (the write is atomic either way)."""
        writing = self._writing
        if writing is not None and not writing.done():
            await asyncio.wait([writing])

    async def take(self, registry: AccountRegistry, ledger: Ledger) -> SnapshotInfo:
        """Build and write a snapshot of ``ledger`` at its tip off the loop, with the
        accounts of ``registry`` it fully covers (StateError: not written)."""
        covered = AccountRegistry(
            [a for a in registry
             if all(ledger.watched.get(s, NEVER) <= a.birthday for s in a.scripts)],
            max_accounts=registry.max_accounts)
        started = self._clock.monotonic()
        taken_at = int(self._clock.wall())
        self._writing = asyncio.ensure_future(
            asyncio.to_thread(self._write, covered, ledger, taken_at))
        try:
            info, listing = await asyncio.shield(self._writing)
        except (StoreError, SnapshotError) as exc:
            if self._metrics is not None:
                self._metrics.snapshots.labels("failed").inc()
            log.error("state.snapshot.failed", height=tip_of(ledger).height, error=str(exc))
            raise StateError(f"the snapshot could not be written: {exc}") from exc
        self._listing = listing
        if self._metrics is not None:
            self._metrics.snapshots.labels("ok").inc()
            self._metrics.snapshot_height.set(info.anchor.height)
            self._metrics.snapshot_bytes.set(info.compressed_size)
        log.info("state.snapshot.taken", height=info.anchor.height, accounts=info.leaf_count,
                 left_out=len(registry) - info.leaf_count, bytes=info.compressed_size,
                 ratio=round(info.ratio, 4),
                 seconds=round(self._clock.monotonic() - started, 3))
        return info

    async def newest(self, below: int | None) -> Snapshot | None:
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

    def _write(self, covered: AccountRegistry, ledger: Ledger,
               taken_at: int) -> tuple[SnapshotInfo, list[SnapshotInfo]]:
        info, data = build_snapshot(self.network, covered, ledger, taken_at, self._cache)
        self._store.write_snapshot(info, data)
        return info, self._list()

    def _list(self) -> list[SnapshotInfo]:
        return [s.info for s in self._store.list_snapshots()]
