"""Batch processor: size/timeout/manual/close flushes, backpressure, failures,
cancellation, all on a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aureond.caching import (
    BatchClosedError,
    BatchFlush,
    BatchFlushError,
    BatchProcessor,
    FlushReason,
)
from aureond.clock import FakeClock


class Sink:
    """A flush function that records batches; can be held or made to fail."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.hold: asyncio.Event | None = None
        self.fail_next: Exception | None = None
        self.entered = asyncio.Event()

    async def __call__(self, items: Sequence[int]) -> None:
        self.entered.set()
        if self.hold is not None:
            await self.hold.wait()
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        self.batches.append(list(items))


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def make(sink: Sink, clock: FakeClock, **kwargs: int | float) -> tuple[
        BatchProcessor[int], list[BatchFlush]]:
    options: dict[str, float] = {"max_batch_size": 3, "max_delay": 1.0, "max_pending": 6}
    options.update(kwargs)
    processor: BatchProcessor[int] = BatchProcessor(
        sink, clock, max_batch_size=int(options["max_batch_size"]),
        max_delay=options["max_delay"], max_pending=int(options["max_pending"]),
        name="headers")
    flushes: list[BatchFlush] = []
    processor.on_flush(flushes.append)
    return processor, flushes


async def test_flushes_on_size() -> None:
    sink, clock = Sink(), FakeClock()
    processor, flushes = make(sink, clock)
    futures = [await processor.submit(i) for i in range(7)]
    await asyncio.gather(*futures[:6])
    assert sink.batches == [[0, 1, 2], [3, 4, 5]]
    assert not futures[6].done()
    assert [(f.reason, f.size, f.ok) for f in flushes] == [(FlushReason.SIZE, 3, True)] * 2
    await processor.close()
    assert sink.batches[-1] == [6]
    assert flushes[-1].reason is FlushReason.CLOSE


async def test_flushes_on_timeout_measured_from_the_first_item() -> None:
    sink, clock = Sink(), FakeClock()
    processor, flushes = make(sink, clock)
    first = await processor.submit(1)
    clock.advance(0.6)
    await processor.submit(2)
    clock.advance(0.3)
    await settle()
    assert sink.batches == []
    clock.advance(0.1)                      # 1.0 s after the first item
    await first
    assert sink.batches == [[1, 2]]
    assert flushes[0].reason is FlushReason.TIMEOUT
    await processor.close()


async def test_a_size_flush_cancels_the_timer() -> None:
    sink, clock = Sink(), FakeClock()
    processor, flushes = make(sink, clock)
    for i in range(3):
        await processor.submit(i)
    await settle()
    clock.advance(5.0)
    await settle()
    assert [f.reason for f in flushes] == [FlushReason.SIZE]
    await processor.close()


async def test_manual_flush_waits_for_everything_submitted() -> None:
    sink, clock = Sink(), FakeClock()
    processor, flushes = make(sink, clock)
    futures = [await processor.submit(i) for i in range(4)]
    await processor.flush()
    assert all(f.done() for f in futures)
    assert sink.batches == [[0, 1, 2], [3]]
    assert flushes[-1].reason is FlushReason.MANUAL
    await processor.flush()                 # nothing pending: returns at once
    await processor.close()


async def test_backpressure_blocks_submit_until_a_flush_completes() -> None:
    sink, clock = Sink(), FakeClock()
    sink.hold = asyncio.Event()
    processor, _ = make(sink, clock, max_batch_size=2, max_pending=4)
    for i in range(4):
        await processor.submit(i)
    assert processor.pending == 4
    blocked = asyncio.create_task(processor.submit(99))
    await settle()
    assert not blocked.done()
    sink.hold.set()
    future = await blocked
    assert processor.pending <= 4
    await processor.close()
    await future
    assert [x for batch in sink.batches for x in batch] == [0, 1, 2, 3, 99]


async def test_flush_failure_reaches_every_item_of_that_batch_only() -> None:
    sink, clock = Sink(), FakeClock()
    sink.fail_next = OSError("disk full")
    processor, flushes = make(sink, clock)
    bad = [await processor.submit(i) for i in range(3)]
    good = [await processor.submit(i) for i in range(3, 6)]
    await asyncio.gather(*good)
    for future in bad:
        with pytest.raises(BatchFlushError) as info:
            await future
        assert isinstance(info.value.__cause__, OSError)
    assert [f.ok for f in flushes] == [False, True]
    assert processor.pending == 0
    await processor.close()


async def test_close_drains_then_refuses() -> None:
    sink, clock = Sink(), FakeClock()
    async with make(sink, clock)[0] as processor:
        futures = [await processor.submit(i) for i in range(5)]
    assert all(f.done() and f.exception() is None for f in futures)
    assert sink.batches == [[0, 1, 2], [3, 4]]
    with pytest.raises(BatchClosedError):
        await processor.submit(9)
    await processor.close()                 # twice is fine


async def test_close_tells_blocked_submitters() -> None:
    sink, clock = Sink(), FakeClock()
    sink.hold = asyncio.Event()
    processor, _ = make(sink, clock, max_batch_size=1, max_pending=1)
    accepted = await processor.submit(1)
    blocked = asyncio.create_task(processor.submit(2))
    await settle()
    closing = asyncio.create_task(processor.close())
    await settle()
    with pytest.raises(BatchClosedError):
        await blocked
    sink.hold.set()
    await closing
    await accepted
    assert sink.batches == [[1]]


async def test_cancelled_close_keeps_draining() -> None:
    sink, clock = Sink(), FakeClock()
    sink.hold = asyncio.Event()
    processor, _ = make(sink, clock)
    future = await processor.submit(1)
    closing = asyncio.create_task(processor.close())
    await settle()
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    sink.hold.set()
    await future
    assert sink.batches == [[1]]


async def test_abort_fails_what_is_left() -> None:
    sink, clock = Sink(), FakeClock()
    sink.hold = asyncio.Event()
    processor, _ = make(sink, clock)
    futures = [await processor.submit(i) for i in range(5)]
    await sink.entered.wait()               # first batch is being flushed
    await processor.abort()
    for future in futures:
        with pytest.raises(BatchClosedError):
            await future
    assert processor.pending == 0
    with pytest.raises(BatchClosedError):
        await processor.submit(9)
    await processor.close()                 # after abort: returns, nothing to drain


async def test_submitter_cancelling_its_future_does_not_hurt_the_batch() -> None:
    sink, clock = Sink(), FakeClock()
    processor, _ = make(sink, clock)
    futures = [await processor.submit(i) for i in range(3)]
    futures[1].cancel()
    await asyncio.gather(futures[0], futures[2])
    assert sink.batches == [[0, 1, 2]]      # accepted items are still written
    await processor.close()


async def test_submit_and_wait() -> None:
    sink, clock = Sink(), FakeClock(autojump=True)
    processor, _ = make(sink, clock)
    await processor.submit_and_wait(7)      # the timer jumps the clock
    assert sink.batches == [[7]]
    await processor.close()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"max_batch_size": 0}, "max_batch_size"), ({"max_delay": 0.0}, "max_delay"),
    ({"max_batch_size": 5, "max_pending": 4}, "max_pending")])
def test_invalid_arguments(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        BatchProcessor(Sink(), FakeClock(), **kwargs)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.integers(1, 5), steps=st.lists(
    st.one_of(st.integers(0, 99), st.sampled_from(["tick", "flush"])), max_size=40))
def test_every_item_flushed_once_in_order(batch: int, steps: list[int | str]) -> None:
    async def scenario() -> None:
        sink, clock = Sink(), FakeClock()
        processor, flushes = make(sink, clock, max_batch_size=batch, max_pending=batch * 2)
        submitted: list[int] = []
        futures = []
        for step in steps:
            if step == "tick":
                clock.advance(0.5)
                await settle()
            elif step == "flush":
                await processor.flush()
            else:
                assert isinstance(step, int)
                futures.append(await processor.submit(step))
                submitted.append(step)
        await processor.close()
        assert [x for b in sink.batches for x in b] == submitted
        assert all(f.done() and f.exception() is None for f in futures)
        assert all(len(b) <= batch for b in sink.batches)
        assert sum(f.size for f in flushes) == len(submitted)

    asyncio.run(scenario())


async def test_size_can_be_counted_by_weight() -> None:
    """Items that carry a count (headers per write run): the batch is cut when their
    sum reaches max_batch_size, whatever the number of items."""
    sink, clock = Sink(), FakeClock()
    processor: BatchProcessor[int] = BatchProcessor(
        sink, clock, max_batch_size=2000, max_delay=1.0, max_pending=100, name="store",
        weight=lambda run: run)
    futures = [await processor.submit(run) for run in (250, 250, 1000, 499)]
    await settle()
    assert sink.batches == []  # 1,999 headers: not yet
    futures.append(await processor.submit(1))
    await asyncio.gather(*futures)
    assert sink.batches == [[250, 250, 1000, 499, 1]]
    big = await processor.submit(5000)  # one item heavier than a batch flushes alone
    await big
    assert sink.batches[-1] == [5000]
    small = await processor.submit(10)
    clock.advance(1.0)
    await small
    assert sink.batches[-1] == [10]
    await processor.close()
