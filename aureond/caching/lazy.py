"""A value computed once, on first demand, shared by every concurrent awaiter.

The first ``await lazy.get()`` starts the computation in its own task; every awaiter,
first or later, waits on that one task through :func:`asyncio.shield`, so cancelling
one awaiter cancels only its wait, never the shared computation. On success the value
is kept and returned from then on without awaiting anything. On failure every waiting
awaiter receives the error and the value stays unset: the next ``get()`` starts a new
computation. A failure nobody is waiting for any more is dropped (it is not logged as
"never retrieved"); the next ``get()`` will meet it again if it persists.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["Lazy"]

T = TypeVar("T")


class Lazy(Generic[T]):
    """A lazily computed, shared async value; see the module docstring."""

    __slots__ = ("_factory", "_has_value", "_runs", "_task", "_value")

    def __init__(self, factory: Callable[[], Awaitable[T]]) -> None:
        self._factory = factory
        self._task: asyncio.Task[T] | None = None
        self._value: T | None = None
        self._has_value = False
        self._runs = 0

    @property
    def has_value(self) -> bool:
        """Whether the value has been computed (and not reset since)."""
        return self._has_value

    @property
    def computing(self) -> bool:
        """Whether a computation is in flight."""
        return self._task is not None and not self._task.done()

    @property
    def runs(self) -> int:
        """How many computations have been started."""
        return self._runs

    async def get(self) -> T:
        """The value, computing it (once, shared) if needed."""
        if self._has_value:
            return self._value  # type: ignore[return-value]
        task = self._task
        if task is None:
            task = asyncio.get_running_loop().create_task(self._compute())
            task.add_done_callback(self._settled)
            self._task = task
            self._runs += 1
        return await asyncio.shield(task)

    def reset(self) -> None:
        """Forget the computed value; the next ``get()`` computes again.

        A computation in flight is left to finish for its awaiters, but its result is
        not kept.
        """
        self._has_value = False
        self._value = None
        self._task = None

    async def aclose(self) -> None:
        """Cancel a computation in flight and wait for it to end (for shutdown)."""
        task = self._task
        self._task = None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])

    async def _compute(self) -> T:
        return await self._factory()

    def _settled(self, task: asyncio.Task[T]) -> None:
        if self._task is not task:
            if not task.cancelled():
                task.exception()  # reset() or aclose() disowned it; mark it retrieved
            return
        self._task = None
        if task.cancelled():
            return
        if task.exception() is None:
            self._value = task.result()
            self._has_value = True
