"""The fsync policy: when flushes happen, seen through the durable watermark on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from aureond.chain.header import BlockHeader
from aureond.clock import FakeClock
from aureond.errors import StoreError
from aureond.store import FsyncPolicy
from tests.store.conftest import durable_records, open_regtest


def test_flushes_every_n_headers(tmp_path: Path, chain: list[BlockHeader]) -> None:
    policy = FsyncPolicy(every_n_headers=10, every_seconds=None)
    with open_regtest(tmp_path, chain[0], fsync_policy=policy) as store:
        store.append(chain[1:6])
        assert durable_records(tmp_path) == 1
        store.append(chain[6:11])
        assert durable_records(tmp_path) == 11
        store.append(chain[11:40])  # one batch past the threshold flushes once, whole
        assert durable_records(tmp_path) == 40


def test_flushes_after_every_seconds_on_the_injected_clock(
        tmp_path: Path, chain: list[BlockHeader]) -> None:
    clock = FakeClock()
    policy = FsyncPolicy(every_n_headers=None, every_seconds=30.0)
    with open_regtest(tmp_path, chain[0], fsync_policy=policy, clock=clock) as store:
        store.append(chain[1:4])
        clock.advance(29.9)
        store.append(chain[4:5])
        assert durable_records(tmp_path) == 1
        clock.advance(0.1)
        store.append(chain[5:6])
        assert durable_records(tmp_path) == 6


def test_explicit_flush_and_close_without_flush(tmp_path: Path,
                                                chain: list[BlockHeader]) -> None:
    policy = FsyncPolicy(every_n_headers=None, every_seconds=None, on_close=False)
    store = open_regtest(tmp_path, chain[0], fsync_policy=policy)
    store.append(chain[1:20])
    store.flush()
    assert durable_records(tmp_path) == 20
    store.append(chain[20:30])
    store.close()
    assert durable_records(tmp_path) == 20
    with open_regtest(tmp_path, chain[0]) as again:
        # the process did not die: the kernel kept the tail; only the table replays
        assert again.tip_height == 29
        assert again.heal_report.hash_index_replayed == 10


def test_default_policy_flushes_on_close(tmp_path: Path, chain: list[BlockHeader]) -> None:
    with open_regtest(tmp_path, chain[0], fsync_policy=FsyncPolicy(every_seconds=None)) as s:
        s.append(chain[1:7])
    assert durable_records(tmp_path) == 7


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"every_n_headers": 0}, "every_n_headers"),
    ({"every_seconds": 0.0}, "every_seconds"),
    ({"every_seconds": -1.0}, "every_seconds"),
])
def test_policy_rejects_nonsense(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FsyncPolicy(**kwargs)  # type: ignore[arg-type]


def test_time_policy_needs_a_clock(tmp_path: Path, chain: list[BlockHeader]) -> None:
    with pytest.raises(ValueError, match="needs a clock"):
        open_regtest(tmp_path, chain[0], fsync_policy=FsyncPolicy(every_seconds=1.0))


def test_closed_store_refuses_writes(tmp_path: Path, chain: list[BlockHeader]) -> None:
    store = open_regtest(tmp_path, chain[0])
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.append(chain[1:2])
    with pytest.raises(StoreError, match="closed"):
        store.flush()
