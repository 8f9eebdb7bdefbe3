"""Fixtures for the store tests: a synthetic regtest chain and a store opener."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from aureond.chain.header import BlockHeader
from aureond.store import FsyncPolicy, HeaderStore
from aureond.store.hashindex import HashIndex
from tests.store.chaingen import REGTEST_WORK, make_chain

OpenStore = Callable[..., HeaderStore]


@pytest.fixture(scope="session")
def chain() -> list[BlockHeader]:
    """1,200 linked regtest headers, genesis first."""
    return make_chain(1200)


def open_regtest(path: Path, genesis: BlockHeader, **kwargs: Any) -> HeaderStore:
    options: dict[str, Any] = {"fsync_policy": FsyncPolicy.manual()}
    options.update(kwargs)
    return HeaderStore.open(path, network_id="regtest", genesis_or_anchor=genesis,
                            anchor_height=0, anchor_chainwork=REGTEST_WORK, **options)


def fill(store: HeaderStore, headers: Sequence[BlockHeader], batch: int = 500) -> None:
    for i in range(0, len(headers), batch):
        store.append(headers[i:i + batch])


def durable_records(path: Path) -> int:
    """How many records the last completed flush covered (the hash table's watermark)."""
    table = HashIndex.open(path / "hashidx.dat")
    assert table is not None
    try:
        return table.covered
    finally:
        table.close()
