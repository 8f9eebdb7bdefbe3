"""The state layer's errors, beside the code that raises them (see :mod:`aureond.errors`).

::

    AureonError
    └── StateError                  watched accounts, the ledger, snapshots
        ├── AddressError            an address or script the account cannot watch
        ├── LedgerError             a block that does not extend the ledger, or an undo
        │                           the ledger cannot perform (reorg below its undo)
        ├── SnapshotError           a snapshot file that is corrupt, truncated or foreign
        └── BlockMismatchError      a downloaded block that does not match our header
"""

from __future__ import annotations

from aureond.errors import AureonError

__all__ = ["AddressError", "BlockMismatchError", "LedgerError", "SnapshotError",
           "StateError"]


class StateError(AureonError):
    """Root of the state layer's errors."""


class AddressError(StateError):
    """An address or script cannot be watched; the message says what is wrong with it."""


class LedgerError(StateError):
    """The ledger was asked to apply a block that does not extend its tip, or to undo
    a block it has no undo record for (a reorg deeper than its undo history: restore
    an older snapshot and replay)."""


class SnapshotError(StateError):
    """A snapshot file is corrupt, truncated, of another network or format version."""


class BlockMismatchError(StateError):
    """A block's bytes do not match the header we validated for it (``reason`` tag)."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")
