"""DurableHeaders: chunked writes, fsync batched by header count and run off the loop,
acknowledgement only once durable, backpressure, and failures that stop the node."""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path

import pytest

from aureond.caching import BatchFlushError
from aureond.chain.header import HEADER_SIZE
from aureond.chain.params import REGTEST
from aureond.chain.tree import TipChanged
from aureond.clock import FakeClock
from aureond.errors import StoreError
from aureond.p2p.durable import DurableHeaders
from aureond.p2p.headerchain import HeaderChain
from aureond.store import FsyncPolicy
from aureond.store.syncticket import SyncTicket
from aureond.stress.chaingen import mine_raw

NOW = 2_000_000_000


@pytest.fixture(scope="module")
def raw() -> bytes:
    return mine_raw(REGTEST.genesis, 600)[0]


def _open(path: Path) -> HeaderChain:
    return HeaderChain.open(REGTEST, path, fsync_policy=FsyncPolicy.manual())


def _accept(chain: HeaderChain, durable: DurableHeaders, raw: bytes) -> int:
    result = chain.add(raw, NOW)
    assert isinstance(result, TipChanged)
    durable.note(len(result.connected))
    return len(result.connected)


async def test_headers_are_acknowledged_only_after_their_fsync(
        tmp_path: Path, raw: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    chain = _open(tmp_path)
    synced: list[int] = []
    real_fsync = SyncTicket.fsync

    def spy(ticket: SyncTicket) -> None:
        real_fsync(ticket)
        synced.append(ticket.count)

    durable = DurableHeaders(chain, FakeClock(), headers_per_flush=250, max_delay=60.0)
    try:
        monkeypatch.setattr(SyncTicket, "fsync", spy)
        _accept(chain, durable, raw[:100 * HEADER_SIZE])
        await durable.wait_for_room()  # drained to the files...
        assert chain.store.tip_height == 100
        assert durable.acknowledged == 0  # ...but 100 < 250: no fsync yet
        assert synced == []
        _accept(chain, durable, raw[100 * HEADER_SIZE:300 * HEADER_SIZE])
        await durable.wait_for_room()
        for _ in range(10):  # the drained run is submitted; 300 >= 250 cuts the batch
            await asyncio.sleep(0)
        await durable.batcher.flush()
        assert synced == [301]  # one fsync covering genesis + 300
        assert durable.acknowledged == 300
        assert durable.healthy
        assert durable.failure is None
    finally:
        monkeypatch.undo()
        await durable.close()
        chain.close()
    again = _open(tmp_path)
    assert again.tip_height == 300
    again.close()


async def test_reading_waits_until_every_accepted_header_is_written(
        tmp_path: Path, raw: bytes) -> None:
    chain = _open(tmp_path)
    durable = DurableHeaders(chain, FakeClock(), headers_per_flush=2000, max_delay=60.0)
    try:
        chain.add(raw[:500 * HEADER_SIZE], NOW)  # accepted, not noted: nothing drains it
        assert chain.pending_writes == 500
        await durable.wait_for_room()  # the backpressure drains it itself
        assert chain.pending_writes == 0
        assert chain.store.tip_height == 500
    finally:
        await durable.close()
        chain.close()


async def test_a_failed_fsync_is_fatal(tmp_path: Path, raw: bytes,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    chain = _open(tmp_path)
    errors: list[None] = []
    durable = DurableHeaders(chain, FakeClock(), headers_per_flush=100, max_delay=60.0,
                             on_error=lambda: errors.append(None))

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    try:
        monkeypatch.setattr("aureond.store.syncticket.os.fsync", failing_fsync)
        _accept(chain, durable, raw[:150 * HEADER_SIZE])
        await durable.wait_for_room()
        with pytest.raises(BatchFlushError):
            await durable.wait_durable(0)
        assert isinstance(durable.failure, StoreError)
        assert "Input/output error" in str(durable.failure)
        assert not durable.healthy
        assert errors  # counted (aureond_store_errors_total in the daemon)
        assert durable.acknowledged == 0
        await durable.wait_for_room()  # never blocks once failed: the node is stopping
    finally:
        monkeypatch.undo()
        await durable.close()
        chain.close()
