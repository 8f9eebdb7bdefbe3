"""How long a ban holds the event loop: the peer book saved in place, or by its writer.

Run: ``.venv/bin/python -m bench.bench_peerbook [--peers N] [--bans N]``.

A book with ``--peers`` records gets ``--bans`` bans in a row on a running event loop,
one per loop turn, as the P2P driver would record them; a heartbeat task measures the
loop's longest stall. "In place" is the book saving itself on every ban (an atomic
replace: two fsyncs, plus the encoding); "writer" is the daemon's ``PeerBookSaver``,
which encodes and writes in a worker thread and coalesces. The file is in the system's
temporary directory: put ``TMPDIR`` on the node's disk if that is another one.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from aureond.clock import SystemClock
from aureond.service.peersaver import PeerBookSaver
from aureond.store.peers import PeerAddress, PeerBook
from bench.common import markdown_table

HEARTBEAT = 0.001


def _book(directory: Path, peers: int) -> PeerBook:
    book = PeerBook.open(directory / "peers.json", clock=SystemClock(), max_peers=peers)
    for i in range(peers):
        book.seen(PeerAddress(f"10.{i // 62500}.{i // 250 % 250}.{i % 250 + 1}", 8333))
    return book


async def _heartbeat(gaps: list[float], stop: asyncio.Event) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(HEARTBEAT)
        now = time.perf_counter()
        gaps.append(now - last - HEARTBEAT)
        last = now


async def _run(peers: int, bans: int, *, writer: bool) -> tuple[float, float, int]:
    """(longest loop stall, total seconds until on disk, writes) for ``bans`` bans."""
    with tempfile.TemporaryDirectory(prefix="aureond-bench-") as tmp:
        book = _book(Path(tmp), peers)
        book.save()
        saver = PeerBookSaver(book) if writer else None
        task = asyncio.create_task(saver.run()) if saver is not None else None
        gaps: list[float] = []
        stop = asyncio.Event()
        beat = asyncio.create_task(_heartbeat(gaps, stop))
        await asyncio.sleep(0.05)
        start = time.perf_counter()
        for i in range(bans):
            book.ban(PeerAddress(f"192.0.2.{i % 250 + 1}", 8333 + i // 250), "bad-block", 60)
            await asyncio.sleep(0)
        if saver is not None:
            await saver.flush()
        total = time.perf_counter() - start
        stop.set()
        await beat
        writes = saver.saves if saver is not None else bans
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return max(gaps, default=0.0), total, writes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", type=int, default=2000)
    parser.add_argument("--bans", type=int, default=50)
    args = parser.parse_args()
    rows = []
    for name, writer in (("in place (before)", False), ("writer thread", True)):
        stall, total, writes = asyncio.run(_run(args.peers, args.bans, writer=writer))
        rows.append((name, f"{stall * 1e3:.1f}", f"{total * 1e3:.0f}", writes))
    print(f"{args.bans} bans, book of {args.peers} peers\n")
    print(markdown_table(("save", "longest loop stall (ms)", "all on disk after (ms)",
                          "writes"), rows))


if __name__ == "__main__":
    main()
