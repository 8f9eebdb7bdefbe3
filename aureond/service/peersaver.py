"""Saving the peer book without holding the event loop.

A ban has to reach ``peers.json`` promptly (it must survive a crash), but a save is an
atomic replace with two fsyncs (the file and its directory): tens of milliseconds on a
busy disk, during which no peer, timer or HTTP request would be served, and encoding a
full book (2,000 peers, 10,000 bans) costs about as much again. The saver takes the
book's snapshot on the loop (references to frozen records: microseconds) and encodes
and writes it in a worker thread, one write at a time; changes that arrive while a
write runs are coalesced into the next one. Crash safety is the book's own: the write
is atomic, so after a crash the file holds either the old book or the new one.

``request()`` asks for a save (the book's ``on_change`` calls it after every ban and
unban); ``flush()`` waits until everything changed before the call is on disk, and
raises ``StoreError`` if the write that should have carried it failed.
"""

from __future__ import annotations

import asyncio

import structlog

from aureond.errors import StoreError
from aureond.store.peers import PeerBook

__all__ = ["PeerBookSaver"]

log = structlog.get_logger("aureond.node")


class PeerBookSaver:
    """Writes ``book`` off the loop while ``run()`` runs; see the module docstring."""

    def __init__(self, book: PeerBook) -> None:
        self._book = book
        self._requested = 0
        self._wake = asyncio.Event()
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self.saves = 0
        """Writes that reached the disk (for tests and logs)."""
        book.on_change = self.request

    def request(self) -> None:
        """Ask for a save."""
        self._requested += 1
        self._wake.set()

    async def flush(self) -> None:
        """Wait until the book as it is now is on disk (raises ``StoreError``)."""
        self.request()
        target = self._requested
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, future))
        await future

    async def run(self) -> None:
        """Write whenever asked, until cancelled (then ``flush()`` callers still
        waiting get a ``StoreError``: the node's final save on shutdown writes it)."""
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                covered = self._requested
                snapshot = self._book.snapshot()
                error: StoreError | None = None
                try:
                    if await asyncio.to_thread(self._book.write, snapshot):
                        self.saves += 1
                except StoreError as exc:
                    error = exc
                    log.warning("store.peers_save_failed", error=str(exc))
                self._settle(covered, error)
        finally:
            self._settle(self._requested, StoreError(
                f"the node is stopping before {self._book.path} was written; its final "
                "save on shutdown writes it"))

    def _settle(self, covered: int, error: StoreError | None) -> None:
        waiting = []
        for target, future in self._waiters:
            if target > covered:
                waiting.append((target, future))
            elif not future.done():
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)
        self._waiters = waiting
