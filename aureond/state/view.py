"""What the HTTP API needs from the node's state layer (the daemon implements it).

Reads are synchronous and cheap (in-memory state); the calls that change state or
write files are coroutines, so the implementation may move file I/O off the loop.
Every method raises :class:`~aureond.state.errors.StateError` for a request that
cannot be honoured (the API answers it with a 4xx naming the problem).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from aureond.state.accounts import Account, AccountState
from aureond.state.ledger import Inclusion
from aureond.state.snapshot import SnapshotInfo

__all__ = ["ScanProgress", "StateView"]


@dataclass(frozen=True, slots=True)
class ScanProgress:
    """Where block scanning stands: the ledger's height, the target, pending rescans."""

    ledger_height: int | None
    target_height: int
    rescans: int
    blocks_in_flight: int


class StateView(Protocol):
    """The node's accounts, ledger and snapshots, as the API sees them."""

    def accounts(self) -> Sequence[Account]: ...

    def account_state(self, account_id: str) -> AccountState | None:
        """The account with its coins and history; None when unknown."""
        ...

    def inclusion(self, txid: bytes) -> Inclusion | None:
        """The merkle branch of a transaction in some account's history."""
        ...

    def progress(self) -> ScanProgress: ...

    async def add_account(self, label: str, watch: Sequence[str], birthday: int) -> Account:
        """Validate, store and start scanning for a new account."""
        ...

    async def delete_account(self, account_id: str) -> bool:
        """Remove an account; False when it did not exist."""
        ...

    def snapshots(self) -> Sequence[SnapshotInfo]:
        """Stored snapshots, newest first."""
        ...

    async def take_snapshot(self) -> SnapshotInfo:
        """Take and store a snapshot at the ledger's tip now."""
        ...
