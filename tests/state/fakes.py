"""An in-memory StateView over a registry and a ledger, for the API tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aureond.chain.tx import Block
from aureond.clock import SeededRandom
from aureond.state.accounts import (
    Account,
    AccountRegistry,
    AccountState,
    account_state,
    new_account,
)
from aureond.state.errors import StateError
from aureond.state.ledger import BlockRef, Inclusion, Ledger
from aureond.state.networks import address_params
from aureond.state.scanner import scan_block
from aureond.state.snapshot import LeafCache, SnapshotInfo, build_snapshot
from aureond.state.store import StateStore
from aureond.state.view import ScanProgress


class FakeStateView:
    """Accounts whose scripts are scanned in one given block (watched from its height)."""

    def __init__(self, directory: Path, network: str, block: Block, height: int) -> None:
        self.network = network
        self.block = block
        self.height = height
        self.registry = AccountRegistry()
        self.rng = SeededRandom(3)
        self.store = StateStore(directory, network)
        self.cache = LeafCache()
        self.ledger = Ledger()

    def _rescan(self) -> None:
        self.ledger = Ledger(BlockRef(self.height - 1, self.block.header.prev_hash))
        for script in self.registry.start_heights():
            self.ledger.watch(script, self.height)
        self.ledger.apply(self.height, scan_block(self.block, set(self.ledger.watched), {}))

    def accounts(self) -> Sequence[Account]:
        return sorted(self.registry, key=lambda a: a.id)

    def account_state(self, account_id: str) -> AccountState | None:
        account = self.registry.get(account_id)
        return None if account is None else account_state(account, self.ledger)

    def inclusion(self, txid: bytes) -> Inclusion | None:
        return self.ledger.inclusion(txid)

    def progress(self) -> ScanProgress:
        tip = self.ledger.tip
        return ScanProgress(tip.height if tip else None, self.height, 0, 0)

    async def add_account(self, label: str, watch: Sequence[str], birthday: int) -> Account:
        account = new_account(label, watch, birthday, address_params(self.network), self.rng)
        self.registry.add(account)
        self.store.save_accounts(self.registry)
        self._rescan()
        return account

    async def delete_account(self, account_id: str) -> bool:
        gone = self.registry.remove(account_id) is not None
        if gone:
            self._rescan()
        return gone

    def snapshots(self) -> Sequence[SnapshotInfo]:
        return [s.info for s in self.store.list_snapshots()]

    async def take_snapshot(self) -> SnapshotInfo:
        if self.ledger.tip is None:
            raise StateError("nothing scanned yet")
        info, data = build_snapshot(self.network, self.registry, self.ledger, 1, self.cache)
        self.store.write_snapshot(info, data)
        return info
