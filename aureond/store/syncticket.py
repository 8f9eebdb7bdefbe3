"""An fsync of the header store that may run off the event loop.

``HeaderStore.flush`` fsyncs on the caller's thread; on a busy node that is the
longest pause the event loop sees (milliseconds, more on a loaded disk). A
:class:`SyncTicket` splits it in three: ``HeaderStore.begin_sync`` (on the store's
thread) notes how many records exist and duplicates the file descriptors;
:meth:`SyncTicket.fsync` does nothing but ``fsync(2)`` on those duplicates, so it may
run in a worker thread while the store keeps appending (it never touches the store's
Python state); ``HeaderStore.finish_sync`` (back on the store's thread) then raises
the hash table's watermark to what the fsync covered (at most ``indexed``: inserts
still buffered in memory were not in the file to be fsynced), unless the store was cut
(reorg) or its table rebuilt in the meantime, in which case it claims nothing and the
next sync covers it. Records appended during the fsync may or may not be durable; only
those counted at ``begin_sync`` are promised.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field

from aureond.errors import StoreError

__all__ = ["SyncTicket"]


@dataclass(slots=True)
class SyncTicket:
    """What one off-thread fsync covers; see the module docstring."""

    count: int
    """Records in the store when the ticket was taken."""
    generation: int
    """The store's truncate/rebuild generation when the ticket was taken."""
    fds: list[int] = field(default_factory=list)
    """Duplicated descriptors of the files to fsync; owned by the ticket."""
    where: str = ""
    indexed: int = -1
    """Records the hash table itself held when the ticket was taken (the rest were
    still buffered): the most its watermark may claim. -1: the same as ``count``."""

    def __post_init__(self) -> None:
        if self.indexed < 0:
            self.indexed = self.count

    def fsync(self) -> None:
        """fsync every file of the ticket (thread-safe: system calls only)."""
        try:
            for fd in self.fds:
                os.fsync(fd)
        except OSError as exc:
            raise StoreError(f"cannot sync the header store in {self.where}: {exc}") from exc

    def release(self) -> None:
        """Close the duplicated descriptors (idempotent)."""
        fds, self.fds = self.fds, []
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
