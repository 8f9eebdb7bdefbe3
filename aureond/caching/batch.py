"""An async batch processor: collect items, hand them over in batches.

Items are submitted one by one and handed to ``flush_fn`` in batches, in submission
order, one batch at a time. A batch is cut when it reaches ``max_batch_size`` (reason
``size``; counted in items, or in the sum of ``weight(item)`` when a weight function
is given, e.g. headers per write run), when its first item has waited ``max_delay``
seconds on the injected clock (``timeout``), on :meth:`BatchProcessor.flush` (``manual``) and on
:meth:`BatchProcessor.close` (``close``).

Every accepted item has a future that resolves once its batch was flushed (the item is
durable, whatever that means for ``flush_fn``) or fails with :class:`BatchFlushError`
(``__cause__`` is what ``flush_fn`` raised) or :class:`BatchClosedError` (the processor
was aborted before the item's turn). No accepted item is silently lost.

Backpressure: at most ``max_pending`` items may be accepted and not yet flushed;
``submit`` waits while that many are. ``close()`` refuses new items, drains everything
accepted and then returns; if the caller of ``close()`` is cancelled the drain goes on.
``abort()`` stops at once and fails what is left.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, TypeVar

from aureond.clock import Clock
from aureond.errors import AureonError

__all__ = ["BatchClosedError", "BatchFlush", "BatchFlushError", "BatchProcessor",
           "FlushReason"]

T = TypeVar("T")


class BatchClosedError(AureonError):
    """The batch processor is closed (or was aborted) and cannot take or flush items."""

    def __init__(self, name: str, detail: str) -> None:
        self.name = name
        super().__init__(f"batch processor {name!r} {detail}")


class BatchFlushError(AureonError):
    """The batch holding an item failed to flush; ``__cause__`` says why."""

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.size = size
        super().__init__(f"batch processor {name!r}: flushing a batch of {size} failed")


class FlushReason(enum.Enum):
    """Why a batch was cut."""

    SIZE = "size"
    TIMEOUT = "timeout"
    MANUAL = "manual"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class BatchFlush:
    """A batch of ``size`` items was handed to the flush function (``ok``: it succeeded)."""

    processor: str
    reason: FlushReason
    size: int
    ok: bool


FlushListener = Callable[[BatchFlush], None]
_Entry = tuple[T, "asyncio.Future[None]"]


class BatchProcessor(Generic[T]):
    """Batches items for ``flush_fn``; see the module docstring."""

    def __init__(self, flush_fn: Callable[[Sequence[T]], Awaitable[None]], clock: Clock, *,
                 max_batch_size: int = 100, max_delay: float = 0.5, max_pending: int = 1000,
                 name: str = "batch", weight: Callable[[T], int] | None = None) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
        if not max_delay > 0:
            raise ValueError(f"max_delay must be a positive number of seconds, got {max_delay}")
        if weight is None and max_pending < max_batch_size:
            raise ValueError(f"max_pending ({max_pending}) must be >= max_batch_size "
                             f"({max_batch_size}), or a full batch could never form")
        self.name = name
        self._flush_fn = flush_fn
        self._clock = clock
        self._max_batch = max_batch_size
        self._weight = weight
        self._buffer_weight = 0
        self._max_delay = float(max_delay)
        self._max_pending = max_pending
        self._buffer: list[_Entry[T]] = []
        self._ready: deque[tuple[list[_Entry[T]], FlushReason]] = deque()
        self._inflight: list[_Entry[T]] = []
        self._pending = 0
        self._closing = False
        self._worker: asyncio.Task[None] | None = None
        self._timer: asyncio.Task[None] | None = None
        self._wakeup = asyncio.Event()
        self._space_waiters: list[asyncio.Future[None]] = []
        self._listeners: list[FlushListener] = []

    @property
    def pending(self) -> int:
        """Items accepted and not yet flushed (or failed)."""
        return self._pending

    @property
    def closed(self) -> bool:
        """Whether the processor refuses new items."""
        return self._closing

    def on_flush(self, listener: FlushListener) -> Callable[[], None]:
        """Call ``listener`` after each batch is flushed; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def __aenter__(self) -> BatchProcessor[T]:
        self._ensure_worker()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def submit(self, item: T) -> asyncio.Future[None]:
        """Accept ``item`` (waiting while ``max_pending`` items are unflushed).

        Returns the item's future: awaiting it tells when the item was flushed, or
        raises why it was not. Raises :class:`BatchClosedError` if the processor is
        closed, also when it closes while this call waits for room.
        """
        while True:
            if self._closing:
                raise BatchClosedError(self.name, "is closed; it takes no new items")
            if self._pending < self._max_pending:
                break
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._space_waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._space_waiters:
                    self._space_waiters.remove(waiter)
        self._ensure_worker()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buffer.append((item, future))
        self._pending += 1
        self._buffer_weight += 1 if self._weight is None else max(0, self._weight(item))
        if self._buffer_weight >= self._max_batch:
            self._cut(FlushReason.SIZE)
        elif len(self._buffer) == 1:
            deadline = self._clock.monotonic() + self._max_delay
            self._timer = asyncio.get_running_loop().create_task(self._expire(deadline))
        return future

    async def submit_and_wait(self, item: T) -> None:
        """Submit ``item`` and wait until it was flushed (or raise why not)."""
        await (await self.submit(item))

    async def flush(self) -> None:
        """Cut the current batch now and wait until everything accepted so far is settled.

        Does not raise for failed items; their futures carry the failures.
        """
        self._cut(FlushReason.MANUAL)
        futures = [f for _, f in self._inflight]
        futures += [f for batch, _ in self._ready for _, f in batch]
        if futures:
            await asyncio.wait(futures)

    async def close(self) -> None:
        """Refuse new items, flush everything accepted, stop. Safe to call twice."""
        if not self._closing:
            self._closing = True
            self._cut(FlushReason.CLOSE)
            self._wake_space_waiters()
            self._wakeup.set()
        worker = self._worker
        if worker is not None and not worker.done():
            await asyncio.shield(worker)

    async def abort(self) -> None:
        """Stop now; every unflushed item's future fails with BatchClosedError."""
        self._closing = True
        self._wake_space_waiters()
        worker = self._worker
        if worker is not None and not worker.done():
            worker.cancel()
            await asyncio.wait([worker])
        self._fail_all("was aborted before the item was flushed")

    # -- internals -----------------------------------------------------------------------

    def _ensure_worker(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run())

    def _cut(self, reason: FlushReason) -> None:
        timer = self._timer
        if timer is not None:
            self._timer = None
            if timer is not asyncio.current_task():
                timer.cancel()
        if self._buffer:
            self._ready.append((self._buffer, reason))
            self._buffer = []
            self._buffer_weight = 0
            self._wakeup.set()

    async def _expire(self, deadline: float) -> None:
        # The task starts a little after the first item arrived: measure from then.
        await self._clock.sleep(deadline - self._clock.monotonic())
        self._cut(FlushReason.TIMEOUT)

    async def _run(self) -> None:
        try:
            while True:
                if not self._ready:
                    if self._closing and not self._buffer:
                        return
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                batch, reason = self._ready.popleft()
                await self._flush_batch(batch, reason)
        finally:
            self._closing = True
            self._fail_all("stopped before the item was flushed")

    async def _flush_batch(self, batch: list[_Entry[T]], reason: FlushReason) -> None:
        self._inflight = batch
        ok = False
        try:
            await self._flush_fn([item for item, _ in batch])
            ok = True
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    error = BatchFlushError(self.name, len(batch))
                    error.__cause__ = exc
                    future.set_exception(error)
        finally:
            self._inflight = []
            if ok:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
            else:
                for _, future in batch:  # cancelled mid-flush: the outcome is unknown
                    if not future.done():
                        future.set_exception(BatchClosedError(
                            self.name, "stopped while the item's batch was being flushed"))
            self._pending -= len(batch)
            self._wake_space_waiters()
        event = BatchFlush(self.name, reason, len(batch), ok)
        for listener in self._listeners:
            listener(event)

    def _wake_space_waiters(self) -> None:
        waiters, self._space_waiters = self._space_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _fail_all(self, detail: str) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        left = list(self._inflight) + list(self._buffer)
        for batch, _ in self._ready:
            left += batch
        self._inflight, self._buffer = [], []
        self._ready.clear()
        for _, future in left:
            if not future.done():
                future.set_exception(BatchClosedError(self.name, detail))
        self._pending -= len(left)
        self._wake_space_waiters()
