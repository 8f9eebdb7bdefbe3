"""A deep reorg that a test kills with SIGKILL (``python -m`` this module).

``python -m tests.store.reorg_crasher DIR DIE_AT`` opens the header chain in DIR (the
main chain the test stored there), writes the heavier branch that forks at genesis to
a side file and commits it. It SIGKILLs itself at its DIE_AT-th file operation (write,
pwrite of a header or index record, ftruncate, fsync, rename, unlink), after doing
only part of a write, so the kill lands between and inside the reorg's own steps. With
DIE_AT 0 it runs to the end and prints how many operations it made.
"""

from __future__ import annotations

import os
import random
import signal
import sys
from functools import cache
from pathlib import Path
from typing import Any

from aureond.chain.header import BlockHeader
from aureond.chain.params import REGTEST
from aureond.p2p.headerchain import HeaderChain
from aureond.store.policy import FsyncPolicy
from tests.chain.helpers import chain_of

MAIN = 3000
BRANCH = 3500
WINDOW = 2027


@cache
def main_chain() -> list[BlockHeader]:
    return chain_of(REGTEST, REGTEST.genesis, MAIN, salt=1)


@cache
def branch_chain() -> list[BlockHeader]:
    return chain_of(REGTEST, REGTEST.genesis, BRANCH, salt=2, spacing=590)


def open_chain(path: Path) -> HeaderChain:
    return HeaderChain.open(REGTEST, path, fsync_policy=FsyncPolicy.manual(), window=WINDOW)


class _Counter:
    def __init__(self, die_at: int, rng: random.Random) -> None:
        self.calls = 0
        self.die_at = die_at
        self.rng = rng

    def tick(self) -> None:
        self.calls += 1
        if self.die_at and self.calls >= self.die_at:
            os.kill(os.getpid(), signal.SIGKILL)


def _install(counter: _Counter) -> None:
    real = {name: getattr(os, name) for name in
            ("write", "pwrite", "ftruncate", "fsync", "replace", "rename", "unlink")}

    def write(fd: int, data: Any) -> int:
        if counter.die_at and counter.calls + 1 >= counter.die_at:
            real["write"](fd, bytes(data)[:counter.rng.randrange(len(data) + 1)])
        counter.tick()
        return int(real["write"](fd, data))

    def pwrite(fd: int, data: Any, offset: int) -> int:
        if len(data) != 8:  # hash-table slots are too many to aim at
            if counter.die_at and counter.calls + 1 >= counter.die_at:
                real["pwrite"](fd, bytes(data)[:counter.rng.randrange(len(data) + 1)], offset)
            counter.tick()
        return int(real["pwrite"](fd, data, offset))

    def plain(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            counter.tick()
            return real[name](*args, **kwargs)
        return call

    os.write = write
    os.pwrite = pwrite
    for name in ("ftruncate", "fsync", "replace", "rename", "unlink"):
        setattr(os, name, plain(name))


def main(argv: list[str]) -> int:
    path, die_at = Path(argv[0]), int(argv[1])
    chain = open_chain(path)
    raw = b"".join(h.serialize() for h in branch_chain())
    counter = _Counter(die_at, random.Random(die_at))
    _install(counter)
    fork = chain.open_fork("peer1", 0)
    for i in range(0, len(raw), 2000 * 80):
        fork.append(raw[i:i + 2000 * 80])
    chain.commit_fork(fork)
    chain.close()
    print(f"operations {counter.calls}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
