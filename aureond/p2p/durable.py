"""Durable header writes: chunked store writes and fsyncs batched by a ``BatchProcessor``.

Accepted headers are in the header tree at once (readable through the API); a drain
task writes them to the store's files in chunks of ``WRITE_CHUNK`` headers, yielding
to the event loop between chunks, so a 2,000-header batch never blocks the loop for
the whole disk write. Written headers survive a process kill; surviving a power loss
takes an fsync, which is batched: one item per drained run, flushed when
``headers_per_flush`` headers are waiting (size) or the oldest has waited ``max_delay``
seconds (timeout), and on shutdown (close). A run is *acknowledged* when its item's
future resolves: from then on it is on stable storage. A failed write or fsync marks
the store unhealthy (``/health`` store check fails), is counted and logged, and is
fatal: ``failure`` is set and the daemon stops with the store error exit code; the
store heals to the last durable header on the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

import structlog

from aureond.caching import BatchFlushError, BatchProcessor
from aureond.clock import Clock
from aureond.errors import AureonError, StoreError
from aureond.p2p.headerchain import HeaderChain

__all__ = ["WRITE_CHUNK", "DurableHeaders"]

WRITE_CHUNK = 500
"""Headers written to the store between two yields to the event loop: one validation
step's worth (``HEADERS_PER_STEP``), a fraction of a millisecond."""
HIGH_WATER = 1
"""Pending headers at which reading from peers waits for the writer (backpressure).

One: the next message is read only once every accepted header is written, so a kill
loses at most the one message being written (<= 2,000 headers), the store's "last
unsynced batch". Nothing is gained by letting the writer fall further behind: parsing,
validation and writing share one thread, and the writer already yields between
chunks."""

log = structlog.get_logger("aureond.store")


def _seen(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


def _headers(run: int) -> int:
    """A batch item is a drained run of headers; its weight is their number."""
    return run


class DurableHeaders:
    """Batches fsyncs of ``chain``'s store; see the module docstring."""

    def __init__(self, chain: HeaderChain, clock: Clock, *, headers_per_flush: int,
                 max_delay: float, on_error: Callable[[], None] | None = None) -> None:
        self._chain = chain
        self._on_error = on_error
        self.healthy = True
        self.acknowledged = 0
        self.batcher: BatchProcessor[int] = BatchProcessor(
            self._flush, clock, max_batch_size=headers_per_flush, max_delay=max_delay,
            max_pending=100_000, name="store", weight=_headers)
        self._submitting: set[asyncio.Task[None]] = set()
        self._drain_task: asyncio.Task[None] | None = None
        self._drained = 0
        self.failure: StoreError | None = None
        self._room = asyncio.Event()
        self._room.set()
        chain.deferred_writes = True

    async def _flush(self, batch: Sequence[int]) -> None:
        try:
            ticket = self._chain.begin_sync()
            try:
                # The fsync itself runs in a worker thread: the loop keeps serving.
                await asyncio.to_thread(ticket.fsync)
            finally:
                ticket.release()
            self._chain.finish_sync(ticket)
        except StoreError as exc:
            # After a failed fsync the kernel may have dropped the dirty pages: what is
            # on disk is unknown, so this is as fatal as a failed write (the next start
            # heals the store to its last durable header).
            self.healthy = False
            if self.failure is None:
                self.failure = exc
            if self._on_error is not None:
                self._on_error()
            log.error("store.flush_failed", error=str(exc))
            self._room.set()
            raise
        self.acknowledged += sum(batch)

    def note(self, headers: int) -> None:
        """``headers`` were accepted; drain them to the store and queue their fsync
        (called on the loop)."""
        self._drained += headers
        if self._drain_task is None or self._drain_task.done():
            self._drain_task = asyncio.get_running_loop().create_task(self._drain())

    async def wait_for_room(self) -> None:
        """Backpressure for the P2P driver: wait while too many headers are unwritten."""
        while self._chain.pending_writes >= HIGH_WATER and self.failure is None:
            self._room.clear()
            if self._drain_task is None or self._drain_task.done():
                self._drain_task = asyncio.get_running_loop().create_task(self._drain())
            await self._room.wait()

    async def _drain(self) -> None:
        try:
            # A yield to the event loop between disk chunks.
            while remaining := self._chain.write_pending(WRITE_CHUNK):
                if remaining < HIGH_WATER:
                    self._room.set()
                await asyncio.sleep(0)
        except StoreError as exc:
            self.fail(exc)
            return
        finally:
            self._room.set()
        count, self._drained = self._drained, 0
        task = asyncio.get_running_loop().create_task(self._submit(count))
        self._submitting.add(task)
        task.add_done_callback(self._submitting.discard)

    def fail(self, exc: StoreError) -> None:
        """A store error is fatal: the store check fails, it is counted and logged, and
        ``failure`` is set, which the daemon raises to stop with the store error exit
        code. For this writer's own failures and for one while the P2P core handles a
        message (the driver's ``on_store_error``)."""
        self.healthy = False
        if self.failure is None:
            self.failure = exc
        if self._on_error is not None:
            self._on_error()
        log.error("store.failed", error=str(exc))

    async def _submit(self, headers: int) -> None:
        try:
            future = await self.batcher.submit(headers)
        except AureonError as exc:  # closed during shutdown: close() flushes anyway
            log.debug("store.flush_skipped", error=str(exc))
            return
        # Nobody awaits this item: a failed flush is reported through ``failure``
        # and the log, so mark its exception as seen rather than let asyncio complain
        # about it when the future is collected.
        future.add_done_callback(_seen)

    async def wait_durable(self, headers: int) -> None:
        """Submit and wait until it is on stable storage (raises BatchFlushError)."""
        await self.batcher.submit_and_wait(headers)

    async def close(self) -> None:
        """Write and flush everything accepted so far, then stop taking items."""
        if self._drain_task is not None:
            await asyncio.gather(self._drain_task, return_exceptions=True)
        try:
            self._chain.write_pending()
        except StoreError as exc:
            self.fail(exc)
        if self._submitting:
            await asyncio.gather(*self._submitting, return_exceptions=True)
        with contextlib.suppress(BatchFlushError):
            await self.batcher.close()
