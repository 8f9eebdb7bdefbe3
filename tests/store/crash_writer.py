"""A header-store writer that a test kills with SIGKILL (``python -m`` this module).

``python -m tests.store.crash_writer DIR SEED [DIE_AT] [--buffered]`` appends the
deterministic test chain in random batches, sometimes truncates and re-appends (a
reorg onto the same chain), flushes now and then. It prints ``durable H`` whenever a
flush or a truncation has returned (both are durable on return), ``truncating H``
before it starts a truncation (which a kill may leave done or not done) and
``progress H`` after each step. With ``DIE_AT`` it SIGKILLs itself in the middle of
its DIE_AT-th record write or truncate call (after writing only part of the bytes), so
the kill lands between the store's own steps; without it, the parent kills it.

``--buffered``: a longer chain in bigger batches into a hash table sized for
``BUFFERED_RESERVE`` records (two regions), so inserts wait in memory and regions are
placed (and torn) now and then; most syncs are sync tickets, which leave the buffer be
(``durable H`` once ``finish_sync`` returned), a few explicit flushes.
"""

from __future__ import annotations

import os
import random
import signal
import sys
from pathlib import Path
from typing import Any

from tests.store.chaingen import make_chain
from tests.store.conftest import open_regtest

CHAIN_LENGTH = 3000
BUFFERED_CHAIN_LENGTH = 20_000
BUFFERED_RESERVE = 40_000
MAX_OPS = 5000


def _die_at(limit: int, rng: random.Random) -> None:
    calls = 0
    real_pwrite, real_ftruncate = os.pwrite, os.ftruncate

    def die_now() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def pwrite(fd: int, data: Any, offset: int) -> int:
        nonlocal calls
        if len(data) == 8:  # hash-table slots: too many to aim at; count the files'
            return real_pwrite(fd, data, offset)
        calls += 1
        if calls >= limit:
            real_pwrite(fd, bytes(data)[:rng.randrange(len(data) + 1)], offset)
            die_now()
        return real_pwrite(fd, data, offset)

    def ftruncate(fd: int, length: int) -> None:
        nonlocal calls
        calls += 1
        if calls >= limit:
            die_now()
        real_ftruncate(fd, length)

    os.pwrite = pwrite
    os.ftruncate = ftruncate


def main(argv: list[str]) -> int:
    path, seed = Path(argv[0]), int(argv[1])
    buffered = "--buffered" in argv[2:]
    die_at = [int(a) for a in argv[2:] if a != "--buffered"]
    rng = random.Random(seed)
    length = BUFFERED_CHAIN_LENGTH if buffered else CHAIN_LENGTH
    chain = make_chain(length)
    store = open_regtest(path, chain[0], window=64, lru=8)
    if buffered:
        store.reserve(BUFFERED_RESERVE)
    if die_at:
        _die_at(die_at[0], rng)
    most = 2000 if buffered else 300
    for _ in range(MAX_OPS):
        tip = store.tip_height
        if tip >= length - 1 or rng.random() < 0.1:
            target = max(0, tip - rng.randrange(1, 200))
            print(f"truncating {target}", flush=True)
            store.truncate(target)
            print(f"durable {store.tip_height}", flush=True)
        else:
            count = rng.randrange(1, most)
            store.append(chain[tip + 1:tip + 1 + count])
        if buffered and rng.random() < 0.5:
            ticket = store.begin_sync()
            ticket.fsync()
            if store.finish_sync(ticket):
                print(f"durable {ticket.count - 1}", flush=True)
        elif rng.random() < 0.3:
            store.flush()
            print(f"durable {store.tip_height}", flush=True)
        print(f"progress {store.tip_height}", flush=True)
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
