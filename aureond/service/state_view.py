"""The running node's accounts and snapshots as the HTTP API sees them (``StateView``).

Reads come straight from the driver's in-memory state (cheap, synchronous); the calls
that change state wait for the driver's lock and write files off the loop. A state
file that cannot be written is answered 503 (the node's disk, not the request, is at
fault) and the change is not made.
"""

from __future__ import annotations

from collections.abc import Sequence

from aureond.errors import ApiError, StoreError
from aureond.service.state_driver import StateDriver
from aureond.state.accounts import Account, AccountState
from aureond.state.ledger import Inclusion
from aureond.state.snapshot import SnapshotInfo
from aureond.state.view import ScanProgress

__all__ = ["DaemonStateView"]


def _unavailable(exc: StoreError, what: str) -> ApiError:
    return ApiError(503, "state_store_unavailable", f"{what}: {exc}")


class DaemonStateView:
    """:class:`~aureond.state.view.StateView` over the node's :class:`StateDriver`."""

    def __init__(self, driver: StateDriver) -> None:
        self._driver = driver

    def accounts(self) -> Sequence[Account]:
        return self._driver.accounts()

    def account_state(self, account_id: str) -> AccountState | None:
        return self._driver.account_state(account_id)

    def inclusion(self, txid: bytes) -> Inclusion | None:
        return self._driver.inclusion(txid)

    def progress(self) -> ScanProgress:
        return self._driver.progress()

    async def add_account(self, label: str, watch: Sequence[str], birthday: int) -> Account:
        try:
            return await self._driver.add_account(label, watch, birthday)
        except StoreError as exc:
            raise _unavailable(exc, "the account was not added") from exc

    async def delete_account(self, account_id: str) -> bool:
        try:
            return await self._driver.delete_account(account_id)
        except StoreError as exc:
            raise _unavailable(exc, "the account was not deleted") from exc

    def snapshots(self) -> Sequence[SnapshotInfo]:
        return self._driver.snapshots()

    async def take_snapshot(self) -> SnapshotInfo:
        return await self._driver.take_snapshot()
