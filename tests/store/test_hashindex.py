"""The on-disk hash table alone: probing, deletion, growth, damage."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from aureond.store.hashindex import HashIndex, HashIndexFullError


def _hashes(count: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(32) for _ in range(count)]


def test_lookup_insert_delete_and_idempotent_insert(tmp_path: Path) -> None:
    hashes = _hashes(1000)
    table = HashIndex.build(tmp_path / "t", iter([]), 0)
    for offset, h in enumerate(hashes):
        table.insert(h, offset)
        table.insert(h, offset)
    assert table.live == 1000

    def verify(offset: int) -> bytes | None:
        return hashes[offset] if offset < len(hashes) else None

    assert all(table.lookup(h, verify) == i for i, h in enumerate(hashes))
    for offset in range(500, 1000):
        table.delete(hashes[offset], offset)
    assert table.live == 500
    assert table.deleted == 500
    assert all(table.lookup(h, verify) is None for h in hashes[500:])
    assert all(table.lookup(h, verify) == i for i, h in enumerate(hashes[:500]))
    # a deleted slot is reused
    table.insert(hashes[700], 700)
    assert table.deleted == 499
    table.close()


def test_lookup_only_believes_what_verify_confirms(tmp_path: Path) -> None:
    hashes = _hashes(10)
    table = HashIndex.build(tmp_path / "t", ((h, i) for i, h in enumerate(hashes)), 10)
    # a chain that no longer has offsets >= 5: stale slots cost a probe, not an answer
    assert table.lookup(hashes[7], lambda off: hashes[off] if off < 5 else None) is None
    # same 12-byte prefix, different hash: the tag matches, verification does not
    twin = hashes[3][:12] + bytes(20)
    assert table.lookup(twin, lambda off: hashes[off]) is None
    table.close()


def test_growth_is_detected_and_rebuild_keeps_everything(tmp_path: Path) -> None:
    hashes = _hashes(5000, seed=2)
    path = tmp_path / "t"
    table = HashIndex.build(path, iter([]), 0)
    small = table.capacity
    inserted = 0
    while not table.needs_growth():
        table.insert(hashes[inserted], inserted)
        inserted += 1
    table.close()
    assert inserted == small // 2 + 1
    bigger = HashIndex.build(path, ((h, i) for i, h in enumerate(hashes)), len(hashes))
    assert bigger.capacity >= 2 * len(hashes)
    assert all(bigger.lookup(h, hashes.__getitem__) == i for i, h in enumerate(hashes))
    assert bigger.covered == len(hashes)
    bigger.close()
    assert not (tmp_path / "t.new").exists()


def test_watermark_survives_reopen_and_lowering_is_durable(tmp_path: Path) -> None:
    path = tmp_path / "t"
    table = HashIndex.build(path, iter([]), 0)
    table.insert(_hashes(1)[0], 0)
    table.sync(1)
    table.close()
    reopened = HashIndex.open(path)
    assert reopened is not None
    assert (reopened.covered, reopened.live) == (1, 1)
    reopened.lower_watermark(0)
    reopened.close()
    again = HashIndex.open(path)
    assert again is not None
    assert again.covered == 0
    again.close()


@pytest.mark.parametrize("damage", ["magic", "crc", "size"])
def test_damaged_table_opens_as_none(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "t"
    HashIndex.build(path, iter([]), 0).close()
    data = bytearray(path.read_bytes())
    if damage == "magic":
        data[0] ^= 1
    elif damage == "crc":
        data[61] ^= 1
    else:
        data += b"\0" * 8
    path.write_bytes(bytes(data))
    assert HashIndex.open(path) is None


def test_leftover_temporary_from_a_torn_rebuild_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "t"
    HashIndex.build(path, iter([]), 0).close()
    (tmp_path / "t.new").write_bytes(b"half a table")
    table = HashIndex.open(path)
    assert table is not None
    table.close()
    assert not (tmp_path / "t.new").exists()


def test_counts_written_after_the_last_sync_survive_a_crash(tmp_path: Path) -> None:
    """Slots written after the last sync reach the disk but the header's counts do
    not (a SIGKILL between two flushes): reopening must count the slots themselves,
    or the load factor under-reports and the table fills up."""
    hashes = _hashes(3000, seed=5)
    path = tmp_path / "t"
    table = HashIndex.build(path, iter([]), 0)
    for offset, h in enumerate(hashes[:100]):
        table.insert(h, offset)
    table.sync(100)
    for offset, h in enumerate(hashes[100:1000], start=100):
        table.insert(h, offset)
    table.delete(hashes[50], 50)
    table.close()  # no sync: the header still says live=100, deleted=0
    reopened = HashIndex.open(path)
    assert reopened is not None
    assert (reopened.live, reopened.deleted) == (999, 1)
    assert reopened.covered == 100
    # replaying the tail (what the store does on open) does not double-count
    for offset, h in enumerate(hashes[100:1000], start=100):
        reopened.insert(h, offset)
    assert reopened.live == 999
    # and growth is detected in time, before any probe runs out of slots
    offset = 1000
    while not reopened.needs_growth():
        reopened.insert(hashes[offset], offset)
        offset += 1
    assert reopened.live + reopened.deleted == reopened.capacity // 2 + 1
    reopened.close()


def test_a_full_table_raises_hash_index_full(tmp_path: Path) -> None:
    hashes = _hashes(5000, seed=6)
    table = HashIndex.build(tmp_path / "t", iter([]), 0)
    capacity = table.capacity
    for offset in range(capacity):
        table.insert(hashes[offset], offset)
    with pytest.raises(HashIndexFullError):
        table.insert(hashes[capacity], capacity)
    table.close()


def test_vectorized_build_resolves_collisions_and_wraps_around(tmp_path: Path) -> None:
    """Many hashes share a home slot (the last ones, so probing wraps past the end of
    the table); records come with a stride as in index.dat. Every one must be found,
    and inserting it again must find it rather than add a copy."""
    rng = random.Random(7)
    capacity_home = (1 << 12) - 3  # the smallest table: 4,096 slots
    clustered = [capacity_home.to_bytes(8, "little") + rng.randbytes(24) for _ in range(40)]
    spread = _hashes(1500, seed=8)
    hashes = clustered + spread
    records = b"".join(h + bytes(32) for h in hashes)  # 64-byte records, hash first
    table = HashIndex.build_from_records(tmp_path / "t", [(records[:64 * 700], 0, 64),
                                                          (records[64 * 700:], 700, 64)],
                                         len(hashes))
    assert table.capacity == 4096
    assert table.live == len(hashes)

    def verify(offset: int) -> bytes | None:
        return hashes[offset] if offset < len(hashes) else None

    assert [table.lookup(h, verify) for h in hashes] == list(range(len(hashes)))
    for offset, h in enumerate(hashes):
        table.insert(h, offset)
    assert table.live == len(hashes)
    table.close()
    reopened = HashIndex.open(tmp_path / "t")
    assert reopened is not None
    assert (reopened.live, reopened.deleted) == (len(hashes), 0)
    reopened.close()


def test_reserved_capacity_is_built_in_and_asked_for_only_when_short(tmp_path: Path) -> None:
    hashes = _hashes(100, seed=9)
    small = HashIndex.build(tmp_path / "a", ((h, i) for i, h in enumerate(hashes)), 100)
    assert small.capacity == 4096
    assert not small.needs_capacity_for(2047)  # 2 * 2047 + 2 fits in 4,096 slots
    assert small.needs_capacity_for(2048)
    runs = [(b"".join(hashes), 0, 32)]
    big = HashIndex.build_from_records(tmp_path / "b", runs, 100, reserve=100_000)
    assert big.capacity == 1 << 18  # the smallest power of two above 200,002
    assert not big.needs_capacity_for(100_000)
    assert [big.lookup(h, lambda o: hashes[o]) for h in hashes] == list(range(100))
    small.close()
    big.close()
