"""Buffered hash-table inserts: the buffer itself, vectorized placement, and the store
with a table large enough that inserts wait in memory (lookups, watermark, crashes)."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from aureond.chain.header import BlockHeader
from aureond.store import FsyncPolicy
from aureond.store.hashbuffer import InsertBuffer, keys_of
from aureond.store.hashindex import HashIndex
from tests.store.chaingen import extend, make_chain
from tests.store.conftest import durable_records, fill, open_regtest

BIG = 100_000
"""Records to reserve the table for: 2**18 slots, four regions of 2**16 (due at 8,192)."""


@pytest.fixture(scope="module")
def long_chain() -> list[BlockHeader]:
    """Enough headers that some region of a 2**18-slot table fills up (8,192 due)."""
    return make_chain(40_000)


def _hashes(count: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(32 * count)


# -- the buffer ------------------------------------------------------------------------

def test_buffer_groups_by_region_and_keeps_values_in_order() -> None:
    buffer = InsertBuffer(18)  # four regions
    assert (buffer.regions, buffer.due_at) == (4, 8192)
    blob = _hashes(3000, seed=1)
    homes, rows = keys_of(blob, 100, 32)
    buffer.add(homes[:1000], rows[:1000])
    buffer.add(homes[1000:], rows[1000:])
    assert buffer.count == 3000
    assert buffer.lowest == 101
    regions = ((homes & np.uint64((1 << 18) - 1)) >> np.uint64(16)).astype(int)
    for r in range(4):
        taken_homes, taken_rows = buffer.take(r)
        mine = np.flatnonzero(regions == r)
        assert taken_homes.tolist() == homes[mine].tolist()
        assert taken_rows[:, 1].tolist() == rows[mine, 1].tolist()  # increasing
    assert buffer.count == 0
    assert buffer.lowest is None


def test_buffer_lookup_due_and_truncation() -> None:
    buffer = InsertBuffer(12)  # one region, 4,096 slots: due at 512
    blob = _hashes(600, seed=2)
    homes, rows = keys_of(blob, 0, 32)
    buffer.add(homes[:500], rows[:500])
    assert buffer.due(4) == []
    buffer.add(homes[500:], rows[500:])
    assert buffer.due(4) == [0]
    some = int(homes[42])
    assert buffer.values_of(some) == [43]
    dropped = buffer.drop_from(301)  # offsets >= 300 are cut
    assert dropped == set(range(301, 601))
    assert buffer.count == 300
    assert buffer.values_of(int(homes[450])) == []
    assert buffer.lowest == 1


# -- vectorized placement --------------------------------------------------------------

def test_placement_finds_every_entry_like_inserting_one_by_one(tmp_path: Path) -> None:
    """Entries placed in bulk into a table already holding others, with a cluster at
    the very end of the table (probes spill past the slots read and wrap around to
    slot 0): every one is found, none twice, the counts are right."""
    rng = random.Random(3)
    table = HashIndex.build(tmp_path / "t", iter([]), 0)  # 4,096 slots
    old = [rng.randbytes(32) for _ in range(600)]
    for offset, h in enumerate(old):
        table.insert(h, offset)
    last = ((1 << 12) - 2).to_bytes(8, "little")
    new = [last + rng.randbytes(24) for _ in range(30)] + [rng.randbytes(32) for _ in range(900)]
    homes, rows = keys_of(b"".join(new), len(old), 32)
    assert table.place(homes, rows) == len(new)
    everything = old + new
    assert table.live == len(everything)

    def verify(offset: int) -> bytes | None:
        return everything[offset] if offset < len(everything) else None

    assert [table.lookup(h, verify) for h in everything] == list(range(len(everything)))
    # known pairs are found and left alone; the table does not grow
    assert table.place(homes, rows, known=True) == 0
    assert table.live == len(everything)
    table.close()
    reopened = HashIndex.open(tmp_path / "t")
    assert reopened is not None
    assert (reopened.live, reopened.deleted) == (len(everything), 0)
    reopened.close()


def test_placement_skips_deleted_slots_and_agrees_with_the_scalar_insert(
        tmp_path: Path) -> None:
    rng = random.Random(4)
    hashes = [rng.randbytes(32) for _ in range(1500)]
    bulk = HashIndex.build(tmp_path / "bulk", iter([]), 0)
    one = HashIndex.build(tmp_path / "one", iter([]), 0)
    for table in (bulk, one):
        for offset, h in enumerate(hashes[:500]):
            table.insert(h, offset)
        for offset in range(0, 500, 3):
            table.delete(hashes[offset], offset)
    homes, rows = keys_of(b"".join(hashes[500:]), 500, 32)
    bulk.place(homes, rows)
    for offset, h in enumerate(hashes[500:], start=500):
        one.insert(h, offset)

    def verify(offset: int) -> bytes | None:
        return hashes[offset] if offset % 3 or offset >= 500 else None

    for table in (bulk, one):
        found = [table.lookup(h, verify) for h in hashes]
        assert found == [i if (i % 3 or i >= 500) else None for i in range(1500)]
    assert bulk.live == one.live == 1500 - len(range(0, 500, 3))
    bulk.close()
    one.close()


# -- the store with a buffering table --------------------------------------------------

def test_buffered_hashes_are_found_and_the_watermark_waits_for_them(
        tmp_path: Path, long_chain: list[BlockHeader]) -> None:
    policy = FsyncPolicy(every_n_headers=1000, every_seconds=None)
    with open_regtest(tmp_path, long_chain[0], fsync_policy=policy, window=16) as store:
        assert store.reserve(BIG)
        fill(store, long_chain[1:6001], batch=1000)
        assert store.pending_hash_inserts == 6000  # no region due yet: all in memory
        # found through the buffer (the window holds 16 headers only)
        for height in (1, 777, 3000, 5999):
            assert store.height_of(long_chain[height].hash) == height
        assert store.height_of(long_chain[6001].hash) is None
        # the policy flushed, but the table holds only the anchor: so says the watermark
        assert durable_records(tmp_path) == 1
        # past due_at in some region: placed one region per batch, the watermark follows
        fill(store, long_chain[6001:40_000], batch=1000)
        assert store.pending_hash_inserts < 39_999
        assert 1 < durable_records(tmp_path) < 40_000
        assert all(store.height_of(long_chain[h].hash) == h for h in range(0, 40_000, 97))
        store.flush()  # an explicit flush places everything
        assert store.pending_hash_inserts == 0
        assert durable_records(tmp_path) == 40_000


def test_a_crash_with_buffered_inserts_replays_them(
        tmp_path: Path, long_chain: list[BlockHeader]) -> None:
    """The files as a kill leaves them after automatic flushes: the table's watermark
    is below the buffered inserts, which a reopen re-inserts from index.dat."""
    live, crashed = tmp_path / "live", tmp_path / "crashed"
    policy = FsyncPolicy(every_n_headers=2000, every_seconds=None)
    store = open_regtest(live, long_chain[0], fsync_policy=policy)
    store.reserve(BIG)
    fill(store, long_chain[1:30_001], batch=2000)
    watermark = durable_records(live)
    assert watermark < 30_001
    shutil.copytree(live, crashed, ignore=shutil.ignore_patterns("LOCK"))
    store.close()
    with open_regtest(crashed, long_chain[0], window=16) as again:
        assert again.tip_height == 30_000
        assert again.heal_report.hash_index_replayed == 30_001 - watermark
        assert all(again.height_of(long_chain[h].hash) == h for h in range(0, 30_001, 61))
    with open_regtest(crashed, long_chain[0]) as third:  # closed cleanly: nothing left
        assert third.heal_report.hash_index_replayed == 0


def test_a_sync_ticket_claims_only_what_the_table_holds(
        tmp_path: Path, long_chain: list[BlockHeader]) -> None:
    with open_regtest(tmp_path, long_chain[0]) as store:
        store.reserve(BIG)
        fill(store, long_chain[1:3001], batch=1000)
        ticket = store.begin_sync()
        assert (ticket.count, ticket.indexed) == (3001, 1)  # the rest is buffered
        ticket.fsync()
        assert store.finish_sync(ticket)
        assert durable_records(tmp_path) == 1


def test_truncating_buffered_headers_forgets_them(
        tmp_path: Path, long_chain: list[BlockHeader]) -> None:
    fork = extend(long_chain[2000], 500, salt=5)  # heights 2001..2500, another branch
    with open_regtest(tmp_path, long_chain[0], window=8) as store:
        store.reserve(BIG)
        fill(store, long_chain[1:3001], batch=1000)
        store.truncate(2000)
        assert store.pending_hash_inserts == 2000
        assert store.height_of(long_chain[2500].hash) is None
        assert store.height_of(long_chain[1999].hash) == 1999
        store.append(fork)
        assert store.height_of(fork[-1].hash) == 2500
        assert store.height_of(long_chain[2500].hash) is None
    with open_regtest(tmp_path, long_chain[0], window=8) as again:
        assert again.height_of(fork[100].hash) == 2101
        assert again.height_of(long_chain[2101].hash) is None
