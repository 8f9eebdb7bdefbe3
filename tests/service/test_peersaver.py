"""The peer book's writer: saves happen in a worker thread, coalesce, never go back in
time, and ``flush`` reports a failed write."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aureond.clock import FakeClock
from aureond.errors import StoreError
from aureond.service.peersaver import PeerBookSaver
from aureond.store.peers import BookSnapshot, PeerAddress, PeerBook

ADDRS = [PeerAddress(f"198.51.100.{i}", 8333) for i in range(1, 51)]


class RecordingBook(PeerBook):
    """A real book that notes which thread writes, and can be held mid-write."""

    def __init__(self, path: Path, clock: FakeClock) -> None:
        super().__init__(path, clock, max_peers=100, max_bans=100)
        self.writer_threads: list[int] = []
        self.release = threading.Event()
        self.release.set()
        self.writing = threading.Event()

    def write(self, snapshot: BookSnapshot) -> bool:
        self.writer_threads.append(threading.get_ident())
        self.writing.set()
        self.release.wait(10)
        return super().write(snapshot)


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[RecordingBook, PeerBookSaver]]:
    book = RecordingBook(tmp_path / "peers.json", FakeClock())
    saver = PeerBookSaver(book)
    task = asyncio.create_task(saver.run())
    yield book, saver
    book.release.set()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _banned_on_disk(path: Path) -> set[str]:
    return {b["host"] for b in json.loads(path.read_text())["bans"]}


async def test_a_ban_is_written_by_a_worker_thread(
        running: tuple[RecordingBook, PeerBookSaver]) -> None:
    book, saver = running
    book.ban(ADDRS[0], "invalid-headers:high-hash", 60)
    assert not book.path.exists()  # ban() itself wrote nothing
    await saver.flush()
    assert _banned_on_disk(book.path) == {ADDRS[0].host}
    assert book.writer_threads
    assert threading.get_ident() not in book.writer_threads


async def test_bans_during_a_write_are_coalesced_into_the_next(
        running: tuple[RecordingBook, PeerBookSaver]) -> None:
    book, saver = running
    book.release.clear()
    book.ban(ADDRS[0], "bad-block", 60)
    await asyncio.to_thread(book.writing.wait, 10)  # the first write is under way
    for address in ADDRS[1:]:
        book.ban(address, "bad-block", 60)
    book.release.set()
    await saver.flush()
    assert _banned_on_disk(book.path) == {a.host for a in ADDRS}
    assert len(book.writer_threads) <= 3  # 50 bans, a couple of writes
    assert saver.saves <= 3


async def test_the_file_never_goes_back_in_time(tmp_path: Path) -> None:
    book = PeerBook.open(tmp_path / "peers.json", clock=FakeClock())
    book.on_change = lambda: None
    book.ban(ADDRS[0], "bad-block", 60)
    old = book.snapshot()
    book.ban(ADDRS[1], "bad-block", 60)
    new = book.snapshot()
    assert book.write(new)
    assert not book.write(old)  # a slow writer with a stale snapshot loses
    assert _banned_on_disk(book.path) == {ADDRS[0].host, ADDRS[1].host}


async def test_flush_raises_when_the_write_fails_and_the_next_one_heals(
        running: tuple[RecordingBook, PeerBookSaver]) -> None:
    book, saver = running
    book.path.mkdir()
    (book.path / "in-the-way").write_text("x")
    book.ban(ADDRS[0], "bad-block", 60)
    with pytest.raises(StoreError, match="cannot write"):
        await saver.flush()
    (book.path / "in-the-way").unlink()
    book.path.rmdir()
    await saver.flush()
    assert _banned_on_disk(book.path) == {ADDRS[0].host}


async def test_waiters_are_told_when_the_writer_stops(tmp_path: Path) -> None:
    book = RecordingBook(tmp_path / "peers.json", FakeClock())
    saver = PeerBookSaver(book)
    task = asyncio.create_task(saver.run())
    book.release.clear()
    book.ban(ADDRS[0], "bad-block", 60)
    await asyncio.to_thread(book.writing.wait, 10)
    waiting = asyncio.create_task(saver.flush())
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    with pytest.raises(StoreError, match="stopping"):
        await waiting
    book.release.set()
    book.save()  # the final save on shutdown
    assert _banned_on_disk(book.path) == {ADDRS[0].host}


def test_without_a_writer_the_book_saves_a_ban_itself(tmp_path: Path) -> None:
    book = PeerBook.open(tmp_path / "peers.json", clock=FakeClock())
    book.ban(ADDRS[0], "bad-block", 60)
    assert _banned_on_disk(book.path) == {ADDRS[0].host}
    assert book.unban(ADDRS[0]) is not None
    assert _banned_on_disk(book.path) == set()
    assert book.unban(ADDRS[0]) is None
