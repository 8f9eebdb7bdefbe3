"""Round trips of the header store on real mainnet headers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aureond.chain.hashing import hash_from_display
from aureond.chain.header import BlockHeader, iter_raw_headers
from aureond.errors import StoreError
from aureond.store import FsyncPolicy, HeaderStore

GENESIS_WORK = 0x100010001


def _load(data_dir: Path, name: str) -> list[BlockHeader]:
    blob = (data_dir / "headers" / name).read_bytes()
    return [BlockHeader.parse(raw) for raw in iter_raw_headers(blob)]


@pytest.fixture(scope="module")
def mainnet_early(data_dir: Path) -> list[BlockHeader]:
    return _load(data_dir, "mainnet_000000-010236.bin")


def _open_mainnet(path: Path, anchor: BlockHeader, height: int = 0,
                  work: int = GENESIS_WORK, **kwargs: object) -> HeaderStore:
    return HeaderStore.open(path, network_id="mainnet", genesis_or_anchor=anchor,
                            anchor_height=height, anchor_chainwork=work,
                            fsync_policy=FsyncPolicy(every_n_headers=4000,
                                                     every_seconds=None), **kwargs)  # type: ignore[arg-type]


def _append_batches(store: HeaderStore, headers: list[BlockHeader]) -> None:
    for i in range(0, len(headers), 2000):
        store.append(headers[i:i + 2000])


def test_mainnet_from_genesis_round_trip(tmp_path: Path,
                                         mainnet_early: list[BlockHeader]) -> None:
    headers = mainnet_early
    with _open_mainnet(tmp_path, headers[0], window=300, lru=16) as store:
        assert store.heal_report.created
        _append_batches(store, headers[1:])
        assert store.tip_height == 10236
        assert store.tip_hash == headers[-1].hash
        # every header is difficulty 1: each adds 0x100010001 of work
        assert store.tip_chainwork == 10237 * GENESIS_WORK
    with _open_mainnet(tmp_path, headers[0], window=300, lru=16) as store:
        assert not store.heal_report.healed
        assert not store.heal_report.created
        assert store.tip_height == 10236
        for height, header in enumerate(headers):
            assert store.height_of(header.hash) == height
        for height in (0, 1, 2015, 2016, 5000, 9936, 10235, 10236):
            assert store.header_at(height) == headers[height]
            assert store.raw_at(height) == headers[height].serialize()
            assert store.chainwork_at(height) == (height + 1) * GENESIS_WORK
        assert store.header_at(10237) is None
        assert store.header_at(-1) is None
        assert list(store.iter_range(4030, 4034)) == headers[4030:4034]
        assert list(store.iter_range(10230, 99999)) == headers[10230:]


def test_mainnet_truncate_forgets_and_reappends(tmp_path: Path,
                                                mainnet_early: list[BlockHeader]) -> None:
    headers = mainnet_early
    with _open_mainnet(tmp_path, headers[0], window=100) as store:
        _append_batches(store, headers[1:])
        store.truncate(7000)
        assert store.tip_height == 7000
        assert store.tip_hash == headers[7000].hash
        assert store.tip_chainwork == 7001 * GENESIS_WORK
        assert store.height_of(headers[7001].hash) is None
        assert store.height_of(headers[10236].hash) is None
        assert store.header_at(7001) is None
    with _open_mainnet(tmp_path, headers[0], window=100) as store:
        assert store.tip_height == 7000
        assert store.height_of(headers[8000].hash) is None
        assert store.height_of(headers[6999].hash) == 6999
        _append_batches(store, headers[7001:])
        assert store.height_of(headers[8000].hash) == 8000
        assert store.tip_chainwork == 10237 * GENESIS_WORK


def test_locator_on_real_chain(tmp_path: Path, mainnet_early: list[BlockHeader]) -> None:
    with _open_mainnet(tmp_path, mainnet_early[0]) as store:
        _append_batches(store, mainnet_early[1:])
        locator = store.locator_hashes()
    # Bitcoin Core's LocatorEntries loop, transcribed: push, step back, then double
    # the step once more than 10 hashes are in.
    expected: list[int] = []
    height, step = 10236, 1
    while True:
        expected.append(height)
        if height == 0:
            break
        height = max(height - step, 0)
        if len(expected) > 10:
            step *= 2
    assert locator == [mainnet_early[h].hash for h in expected]
    assert expected[:12] == list(range(10236, 10224, -1))
    assert locator[-1] == mainnet_early[0].hash


def test_anchored_at_822528_with_real_chainwork(tmp_path: Path, data_dir: Path) -> None:
    headers = _load(data_dir, "mainnet_822528-830592.bin")
    boundaries = json.loads((data_dir / "headers" / "mainnet_retarget_boundaries.json")
                            .read_text())
    works = _chainworks_by_height(boundaries)
    with _open_mainnet(tmp_path, headers[0], 822528, works[822528]) as store:
        _append_batches(store, headers[1:])
        assert store.tip_height == 830592
        # the real cumulative chain work at 830592, recomputed from bits alone
        assert store.tip_chainwork == works[830592]
        assert store.chainwork_at(824544) == works[824544]
    with _open_mainnet(tmp_path, headers[0], 822528, works[822528]) as store:
        assert store.height_of(headers[4000].hash) == 826528
        assert store.header_at(822527) is None
        assert store.locator_hashes()[-1] == headers[0].hash
        with pytest.raises(StoreError, match="below the anchor"):
            store.truncate(822527)
        store.truncate(826559)
        assert store.chainwork_at(826559) == works[826559]
        assert store.height_of(headers[4032].hash) is None


def _chainworks_by_height(doc: dict[str, list[dict[str, str | int]]]) -> dict[int, int]:
    """Height -> cumulative chain work, from the boundaries file's entries."""
    return {int(e["height"]): int(str(e["chainwork"]), 16) for e in doc["entries"]}


def test_refuses_wrong_network_anchor_and_second_opener(
        tmp_path: Path, mainnet_early: list[BlockHeader]) -> None:
    genesis = mainnet_early[0]
    store = _open_mainnet(tmp_path, genesis)
    with pytest.raises(StoreError, match="in use by another process"):
        _open_mainnet(tmp_path, genesis)
    store.close()
    with pytest.raises(StoreError, match="holds network 'mainnet', not 'testnet3'"):
        HeaderStore.open(tmp_path, network_id="testnet3", genesis_or_anchor=genesis,
                         anchor_height=0, anchor_chainwork=GENESIS_WORK)
    with pytest.raises(StoreError, match="anchored at height 0"):
        _open_mainnet(tmp_path, mainnet_early[2016], 2016, 2017 * GENESIS_WORK)
    meta = tmp_path / "meta.json"
    doc = json.loads(meta.read_text())
    doc["format_version"] = 99
    meta.write_text(json.dumps(doc))
    with pytest.raises(StoreError, match="store format 99"):
        _open_mainnet(tmp_path, genesis)
    meta.write_text("{not json")
    with pytest.raises(StoreError, match="not a valid store meta file"):
        _open_mainnet(tmp_path, genesis)


def test_refuses_header_files_without_meta(tmp_path: Path,
                                          mainnet_early: list[BlockHeader]) -> None:
    (tmp_path / "headers.dat").write_bytes(mainnet_early[0].serialize())
    with pytest.raises(StoreError, match="not an aureond store"):
        _open_mainnet(tmp_path, mainnet_early[0])


def test_append_checks_linkage_and_writes_nothing_on_refusal(
        tmp_path: Path, mainnet_early: list[BlockHeader]) -> None:
    with _open_mainnet(tmp_path, mainnet_early[0]) as store:
        store.append(mainnet_early[1:10])
        with pytest.raises(StoreError, match="height 10 does not link to the stored tip"):
            store.append(mainnet_early[11:20])
        with pytest.raises(StoreError, match="height 12 does not link to the header before"):
            store.append([*mainnet_early[10:12], mainnet_early[13]])
        assert store.tip_height == 9
        assert (tmp_path / "headers.dat").stat().st_size == 10 * 80
        store.append([])
        assert store.tip_height == 9


def test_hash_lookup_accepts_display_hex_round_trip(
        tmp_path: Path, mainnet_early: list[BlockHeader]) -> None:
    with _open_mainnet(tmp_path, mainnet_early[0]) as store:
        store.append(mainnet_early[1:200])
        genesis = hash_from_display(
            "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f")
        assert store.height_of(genesis) == 0
        assert store.height_of(b"\x00" * 32) is None
        assert store.height_of(b"short") is None
