"""Durable header writes: the store's fsync, batched through a ``BatchProcessor``.

Accepted headers reach the store's files at once (``HeaderChain.add``), so they survive
a process kill; making them survive a power loss takes an fsync, which is batched: one
item per accepted header run, flushed when ``runs_per_flush`` runs are waiting (size)
or the oldest has waited ``max_delay`` seconds (timeout), and on shutdown (close). A
run is *acknowledged* when its item's future resolves: from then on it is on stable
storage. A failed fsync marks the store unhealthy (``/health`` store check fails) and
is logged; the store heals to the last durable header on the next start.
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

__all__ = ["DurableHeaders"]

log = structlog.get_logger("aureond.store")


class DurableHeaders:
    """Batches fsyncs of ``chain``'s store; see the module docstring."""

    def __init__(self, chain: HeaderChain, clock: Clock, *, runs_per_flush: int,
                 max_delay: float, on_error: Callable[[], None] | None = None) -> None:
        self._chain = chain
        self._on_error = on_error
        self.healthy = True
        self.acknowledged = 0
        self.batcher: BatchProcessor[int] = BatchProcessor(
            self._flush, clock, max_batch_size=runs_per_flush, max_delay=max_delay,
            max_pending=100_000, name="store")
        self._submitting: set[asyncio.Task[None]] = set()

    async def _flush(self, batch: Sequence[int]) -> None:
        try:
            self._chain.flush()
        except StoreError as exc:
            self.healthy = False
            if self._on_error is not None:
                self._on_error()
            log.error("store.flush_failed", error=str(exc))
            raise
        self.acknowledged += sum(batch)

    def note(self, headers: int) -> None:
        """A run of ``headers`` was written; queue its fsync (called on the loop)."""
        task = asyncio.get_running_loop().create_task(self._submit(headers))
        self._submitting.add(task)
        task.add_done_callback(self._submitting.discard)

    async def _submit(self, headers: int) -> None:
        try:
            await self.batcher.submit(headers)
        except AureonError as exc:  # closed during shutdown: close() flushes anyway
            log.debug("store.flush_skipped", error=str(exc))

    async def wait_durable(self, headers: int) -> None:
        """Submit and wait until it is on stable storage (raises BatchFlushError)."""
        await self.batcher.submit_and_wait(headers)

    async def close(self) -> None:
        """Flush everything accepted so far, then stop taking items."""
        if self._submitting:
            await asyncio.gather(*self._submitting, return_exceptions=True)
        with contextlib.suppress(BatchFlushError):
            await self.batcher.close()
