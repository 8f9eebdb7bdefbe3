"""Torn tails: tear the files at every interesting byte and check open() heals.

Every case builds the damaged directory from the bytes of a clean store, reopens it,
checks the tip is the last consistent height and that appending carries on from there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aureond.chain.header import BlockHeader
from aureond.errors import StoreError
from aureond.store import HeaderStore
from tests.store.chaingen import REGTEST_WORK, extend
from tests.store.conftest import fill, open_regtest

N = 40
FILES = ("meta.json", "headers.dat", "index.dat", "hashidx.dat")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory,
             chain: list[BlockHeader]) -> dict[str, bytes]:
    path = tmp_path_factory.mktemp("pristine")
    with open_regtest(path, chain[0]) as store:
        fill(store, chain[1:N])
    return {name: (path / name).read_bytes() for name in FILES}


def _write(path: Path, files: dict[str, bytes]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (path / name).write_bytes(data)


def _reopen_and_continue(path: Path, chain: list[BlockHeader], expected_tip: int) -> HeaderStore:
    """Open, check the healed tip and lookups, then append up to N + 5 and check again."""
    store = open_regtest(path, chain[0], window=8, lru=4)
    assert store.tip_height == expected_tip
    assert store.tip_hash == chain[expected_tip].hash
    assert store.tip_chainwork == (expected_tip + 1) * REGTEST_WORK
    for height in range(expected_tip + 1, N):
        assert store.height_of(chain[height].hash) is None
    assert store.height_of(chain[expected_tip].hash) == expected_tip
    store.append(chain[expected_tip + 1:N + 5])
    assert store.tip_height == N + 4
    for height in (1, expected_tip, N - 1, N + 4):
        assert store.height_of(chain[height].hash) == height
        assert store.header_at(height) == chain[height]
    store.close()
    again = open_regtest(path, chain[0])
    assert again.tip_height == N + 4
    assert not again.heal_report.healed
    return again


def test_clean_reopen_reports_nothing(tmp_path: Path, pristine: dict[str, bytes],
                                      chain: list[BlockHeader]) -> None:
    _write(tmp_path, pristine)
    with open_regtest(tmp_path, chain[0]) as store:
        report = store.heal_report
        assert (report.healed, report.created, report.dropped_headers) == (False, False, 0)
        assert report.tip_height == N - 1


@pytest.mark.parametrize("cut", range(1, 2 * 80 + 1))
def test_headers_file_torn_at_every_byte_of_the_last_two_records(
        tmp_path: Path, pristine: dict[str, bytes], chain: list[BlockHeader], cut: int) -> None:
    files = dict(pristine)
    files["headers.dat"] = pristine["headers.dat"][:-cut]
    _write(tmp_path, files)
    length = N * 80 - cut
    store = _reopen_and_continue(tmp_path, chain, length // 80 - 1)
    store.close()


@pytest.mark.parametrize("cut", range(1, 2 * 64 + 1))
def test_index_file_torn_at_every_byte_of_the_last_two_records(
        tmp_path: Path, pristine: dict[str, bytes], chain: list[BlockHeader], cut: int) -> None:
    files = dict(pristine)
    files["index.dat"] = pristine["index.dat"][:-cut]
    _write(tmp_path, files)
    with open_regtest(tmp_path, chain[0]) as store:
        report = store.heal_report
        assert report.healed
        assert report.index_bytes[0] == N * 64 - cut
        assert report.headers_bytes == (N * 80, store.heal_report.index_bytes[1] // 64 * 80)
    _reopen_and_continue(tmp_path, chain, (N * 64 - cut) // 64 - 1).close()


@pytest.mark.parametrize("records", [1, 3, N - 2])
def test_index_longer_than_headers(tmp_path: Path, pristine: dict[str, bytes],
                                   chain: list[BlockHeader], records: int) -> None:
    files = dict(pristine)
    files["headers.dat"] = pristine["headers.dat"][:(N - records) * 80]
    _write(tmp_path, files)
    with open_regtest(tmp_path, chain[0]) as store:
        assert store.heal_report.dropped_headers == records
        assert any("the shorter wins" in r for r in store.heal_report.reasons)
    _reopen_and_continue(tmp_path, chain, N - records - 1).close()


@pytest.mark.parametrize("records", [1, 3, N - 2])
def test_headers_longer_than_index(tmp_path: Path, pristine: dict[str, bytes],
                                   chain: list[BlockHeader], records: int) -> None:
    files = dict(pristine)
    files["index.dat"] = pristine["index.dat"][:(N - records) * 64]
    _write(tmp_path, files)
    _reopen_and_continue(tmp_path, chain, N - records - 1).close()


@pytest.mark.parametrize("position", range(80))
def test_garbage_in_last_header_record(tmp_path: Path, pristine: dict[str, bytes],
                                       chain: list[BlockHeader], position: int) -> None:
    data = bytearray(pristine["headers.dat"])
    data[(N - 1) * 80 + position] ^= 0xFF
    _write(tmp_path, {**pristine, "headers.dat": bytes(data)})
    with open_regtest(tmp_path, chain[0]) as store:
        assert store.heal_report.reasons == (
            f"height {N - 1}: index hash is not the header's hash",)
        assert store.heal_report.dropped_headers == 1
    _reopen_and_continue(tmp_path, chain, N - 2).close()


@pytest.mark.parametrize("position", range(64))
def test_garbage_in_last_index_record(tmp_path: Path, pristine: dict[str, bytes],
                                      chain: list[BlockHeader], position: int) -> None:
    data = bytearray(pristine["index.dat"])
    data[(N - 1) * 64 + position] ^= 0x01
    _write(tmp_path, {**pristine, "index.dat": bytes(data)})
    with open_regtest(tmp_path, chain[0]) as store:
        wanted = "index hash" if position < 32 else "cumulative chain work"
        assert wanted in store.heal_report.reasons[0]
    _reopen_and_continue(tmp_path, chain, N - 2).close()


def test_zeroed_tail_as_after_power_loss(tmp_path: Path, pristine: dict[str, bytes],
                                         chain: list[BlockHeader]) -> None:
    # A filesystem may extend a file with zeros whose data never reached the disk.
    files = {**pristine,
             "headers.dat": pristine["headers.dat"][:-5 * 80] + bytes(5 * 80),
             "index.dat": pristine["index.dat"][:-5 * 64] + bytes(5 * 64)}
    _write(tmp_path, files)
    _reopen_and_continue(tmp_path, chain, N - 6).close()


def test_record_that_does_not_link(tmp_path: Path, pristine: dict[str, bytes],
                                   chain: list[BlockHeader]) -> None:
    # A well-formed record with a matching index entry, but built on height N-3.
    (stray,) = extend(chain[N - 3], 1, salt=7)
    headers = pristine["headers.dat"][:-80] + stray.serialize()
    index = (pristine["index.dat"][:-64] + stray.hash
             + (N * REGTEST_WORK).to_bytes(32, "big"))
    _write(tmp_path, {**pristine, "headers.dat": headers, "index.dat": index})
    with open_regtest(tmp_path, chain[0]) as store:
        assert store.heal_report.reasons == (
            f"height {N - 1}: header does not link to height {N - 2}",)
        assert store.height_of(stray.hash) is None
    _reopen_and_continue(tmp_path, chain, N - 2).close()


@pytest.mark.parametrize("damage", ["missing", "bad-crc", "short", "empty"])
def test_damaged_hash_table_is_rebuilt(tmp_path: Path, pristine: dict[str, bytes],
                                       chain: list[BlockHeader], damage: str) -> None:
    files = dict(pristine)
    table = pristine["hashidx.dat"]
    if damage == "missing":
        del files["hashidx.dat"]
    elif damage == "bad-crc":
        files["hashidx.dat"] = table[:20] + bytes([table[20] ^ 1]) + table[21:]
    elif damage == "short":
        files["hashidx.dat"] = table[:-8]
    else:
        files["hashidx.dat"] = b""
    _write(tmp_path, files)
    with open_regtest(tmp_path, chain[0]) as store:
        assert store.heal_report.hash_index_rebuilt
        assert store.heal_report.healed
        assert all(store.height_of(chain[h].hash) == h for h in range(N))
    _reopen_and_continue(tmp_path, chain, N - 1).close()


def test_hash_table_tail_above_watermark_is_replayed(tmp_path: Path,
                                                     chain: list[BlockHeader]) -> None:
    # The table as of the last flush, with header files written after it: what a
    # crash leaves when the slots written since the flush never reached the disk.
    with open_regtest(tmp_path, chain[0]) as store:
        store.append(chain[1:20])
        store.flush()
        table_at_flush = (tmp_path / "hashidx.dat").read_bytes()
        store.append(chain[20:N])
        store.flush()
    (tmp_path / "hashidx.dat").write_bytes(table_at_flush)
    with open_regtest(tmp_path, chain[0], window=1) as store:
        assert store.heal_report.hash_index_replayed == N - 20
        assert all(store.height_of(chain[h].hash) == h for h in range(N))


def test_torn_creation_is_redone(tmp_path: Path, pristine: dict[str, bytes],
                                 chain: list[BlockHeader]) -> None:
    _write(tmp_path, {"meta.json": pristine["meta.json"],
                      "headers.dat": pristine["headers.dat"][:33]})
    with open_regtest(tmp_path, chain[0]) as store:
        assert store.tip_height == 0
        assert store.heal_report.healed
    _reopen_and_continue(tmp_path, chain, 0).close()


def test_first_record_not_the_anchor_is_refused(tmp_path: Path, pristine: dict[str, bytes],
                                                chain: list[BlockHeader]) -> None:
    data = bytearray(pristine["headers.dat"])
    data[0] ^= 1
    _write(tmp_path, {**pristine, "headers.dat": bytes(data)})
    with pytest.raises(StoreError, match="does not start with the anchor"):
        open_regtest(tmp_path, chain[0])


def test_check_is_bounded_to_the_tail(tmp_path: Path, pristine: dict[str, bytes],
                                      chain: list[BlockHeader]) -> None:
    # Damage older than the checked tail is not looked at: open stays O(tail).
    data = bytearray(pristine["headers.dat"])
    data[5 * 80 + 40] ^= 1
    _write(tmp_path, {**pristine, "headers.dat": bytes(data)})
    with open_regtest(tmp_path, chain[0], tail_check=10) as store:
        assert store.tip_height == N - 1
        assert not store.heal_report.healed
    with open_regtest(tmp_path, chain[0], tail_check=N) as store:
        assert store.tip_height == 4
