"""Lazy values under concurrency, failure and cancellation."""

from __future__ import annotations

import asyncio
import gc

import pytest

from aureond.caching import Lazy


class Factory:
    """A computation the test releases by hand; counts its runs."""

    def __init__(self) -> None:
        self.runs = 0
        self.gate = asyncio.Event()
        self.fail_with: Exception | None = None
        self.started = asyncio.Event()

    async def __call__(self) -> int:
        self.runs += 1
        self.started.set()
        await self.gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return 42


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_concurrent_awaiters_share_one_computation() -> None:
    factory = Factory()
    lazy = Lazy(factory)
    waiters = [asyncio.create_task(lazy.get()) for _ in range(10)]
    await factory.started.wait()
    assert lazy.computing
    assert not lazy.has_value
    factory.gate.set()
    assert await asyncio.gather(*waiters) == [42] * 10
    assert factory.runs == lazy.runs == 1
    assert await lazy.get() == 42
    assert factory.runs == 1
    assert (lazy.has_value, lazy.computing) == (True, False)


async def test_failure_reaches_every_waiter_and_the_next_get_retries() -> None:
    factory = Factory()
    factory.fail_with = ConnectionResetError("down")
    lazy = Lazy(factory)
    waiters = [asyncio.create_task(lazy.get()) for _ in range(3)]
    await factory.started.wait()
    factory.gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, ConnectionResetError) for r in results)
    assert not lazy.has_value
    assert not lazy.computing
    factory.fail_with = None
    assert await lazy.get() == 42
    assert factory.runs == 2


async def test_cancelling_one_awaiter_does_not_cancel_the_others() -> None:
    factory = Factory()
    lazy = Lazy(factory)
    first = asyncio.create_task(lazy.get())
    second = asyncio.create_task(lazy.get())
    await factory.started.wait()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert lazy.computing
    factory.gate.set()
    assert await second == 42
    assert factory.runs == 1


async def test_computation_survives_all_awaiters_leaving() -> None:
    factory = Factory()
    lazy = Lazy(factory)
    only = asyncio.create_task(lazy.get())
    await factory.started.wait()
    only.cancel()
    with pytest.raises(asyncio.CancelledError):
        await only
    factory.gate.set()
    await settle()
    assert lazy.has_value
    assert await lazy.get() == 42
    assert factory.runs == 1


async def test_failure_nobody_waits_for_is_dropped_and_retried(
        caplog: pytest.LogCaptureFixture) -> None:
    factory = Factory()
    factory.fail_with = ValueError("bad")
    lazy = Lazy(factory)
    only = asyncio.create_task(lazy.get())
    await factory.started.wait()
    only.cancel()
    with pytest.raises(asyncio.CancelledError):
        await only
    factory.gate.set()
    await settle()
    assert not lazy.has_value
    assert not lazy.computing
    factory.fail_with = None
    assert await lazy.get() == 42
    del only
    gc.collect()
    await settle()
    assert "never retrieved" not in caplog.text


async def test_reset_forces_a_new_computation() -> None:
    factory = Factory()
    factory.gate.set()
    lazy = Lazy(factory)
    assert await lazy.get() == 42
    lazy.reset()
    assert not lazy.has_value
    assert await lazy.get() == 42
    assert factory.runs == 2


async def test_reset_during_a_computation_keeps_its_awaiters_but_not_its_result() -> None:
    factory = Factory()
    lazy = Lazy(factory)
    waiter = asyncio.create_task(lazy.get())
    await factory.started.wait()
    lazy.reset()
    factory.gate.set()
    assert await waiter == 42
    assert not lazy.has_value


async def test_aclose_cancels_the_computation() -> None:
    factory = Factory()
    lazy = Lazy(factory)
    waiter = asyncio.create_task(lazy.get())
    await factory.started.wait()
    await lazy.aclose()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not lazy.computing
    assert not lazy.has_value
