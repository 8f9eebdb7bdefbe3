"""HeaderChain: tree + store, written through, reopened, reorganised."""

from __future__ import annotations

from pathlib import Path

import pytest

from aureond.chain.header import HEADER_SIZE, BlockHeader
from aureond.chain.params import MAINNET, REGTEST
from aureond.chain.target import work_from_bits
from aureond.chain.tree import TipChanged, TipUnchanged
from aureond.errors import HeaderRejectedError, StoreError
from aureond.p2p.headerchain import RESERVE_AHEAD, Anchor, HeaderChain
from tests.chain.helpers import FAR_FUTURE, chain_of, read_run


def _feed(chain: HeaderChain, raw: bytes, batch: int = 2000) -> None:
    for o in range(0, len(raw), batch * HEADER_SIZE):
        chain.add(raw[o:o + batch * HEADER_SIZE], FAR_FUTURE)


def test_real_mainnet_sync_survives_reopen(data_dir: Path, tmp_path: Path) -> None:
    raw, meta = read_run(data_dir, "mainnet_000000-010236")
    chain = HeaderChain.open(MAINNET, tmp_path, window=3000)
    _feed(chain, raw[HEADER_SIZE:])
    assert chain.tip_height == 10236
    assert chain.tip_hash.hex() == bytes.fromhex(meta["last_hash"])[::-1].hex()
    assert chain.tip_chainwork == 10237 * work_from_bits(0x1D00FFFF)
    chain.close()
    again = HeaderChain.open(MAINNET, tmp_path, window=3000)
    assert (again.tip_height, again.tip_hash) == (10236, chain.tip_hash)
    assert again.tip_chainwork == chain.tip_chainwork
    # Lookups below the in-memory window come from disk.
    assert again.tree.base_height > 5000
    assert again.hash_at(5000) == BlockHeader.parse(raw[5000 * 80:5001 * 80]).hash
    assert again.height_of(again.hash_at(123) or b"") == 123
    assert again.locator()[0] == again.tip_hash
    assert again.locator()[-1] == MAINNET.genesis_hash
    # The rebuilt tree keeps validating new headers across retarget boundaries.
    again.close()


def test_real_anchor_run(data_dir: Path, tmp_path: Path) -> None:
    raw, _ = read_run(data_dir, "mainnet_822528-830592")
    anchor = Anchor(BlockHeader.parse(raw[:HEADER_SIZE]), 822528, 0x624C5A3C876E3E6FFFD9C800)
    chain = HeaderChain.open(MAINNET, tmp_path, anchor=anchor)
    _feed(chain, raw[HEADER_SIZE:5000 * HEADER_SIZE])
    chain.close()
    chain = HeaderChain.open(MAINNET, tmp_path, anchor=anchor)
    _feed(chain, raw[5000 * HEADER_SIZE:])
    assert chain.tip_height == 830592
    chain.close()


def test_reorg_is_written_through(tmp_path: Path) -> None:
    chain = HeaderChain.open(REGTEST, tmp_path)
    main = chain_of(REGTEST, REGTEST.genesis, 30, spacing=60, salt=1)
    chain.add(b"".join(h.serialize() for h in main), FAR_FUTURE)
    side = chain_of(REGTEST, main[19], 12, spacing=61, salt=2)
    result = chain.add(b"".join(h.serialize() for h in side), FAR_FUTURE)
    assert isinstance(result, TipChanged)
    assert result.depth == 10
    assert chain.tip_height == 32
    assert chain.store.tip_height == 32
    assert chain.store.hash_at(21) == side[0].hash
    assert chain.height_of(main[25].hash) is None  # reverted: no longer on the best chain
    chain.close()
    again = HeaderChain.open(REGTEST, tmp_path)
    assert again.tip_hash == side[-1].hash
    assert again.store.height_of(main[25].hash) is None
    again.close()


def test_invalid_headers_never_reach_the_store(tmp_path: Path) -> None:
    chain = HeaderChain.open(REGTEST, tmp_path)
    good = chain_of(REGTEST, REGTEST.genesis, 5, spacing=60, salt=3)
    bad = bytearray(b"".join(h.serialize() for h in good))
    bad[3 * HEADER_SIZE + 4] ^= 1  # break the link of the 4th header
    with pytest.raises(HeaderRejectedError):
        chain.add(bytes(bad), FAR_FUTURE)
    assert chain.store.tip_height == 0
    assert isinstance(chain.add(good[0].serialize(), FAR_FUTURE), TipChanged)
    assert isinstance(chain.add(good[0].serialize(), FAR_FUTURE), TipUnchanged)
    chain.close()


def test_store_of_another_network_is_refused(tmp_path: Path) -> None:
    HeaderChain.open(REGTEST, tmp_path).close()
    with pytest.raises(StoreError):
        HeaderChain.open(MAINNET, tmp_path)


def test_a_claimed_height_sizes_the_hash_table_once_and_is_capped(
        data_dir: Path, tmp_path: Path) -> None:
    """A peer's claimed height makes the next write size the hash table for it (one
    rebuild while the store is small, no doublings during the sync); a claim beyond
    RESERVE_AHEAD above the tip is cut to it."""
    raw, _ = read_run(data_dir, "mainnet_000000-010236")
    chain = HeaderChain.open(MAINNET, tmp_path, window=3000)
    chain.deferred_writes = True
    table_file = tmp_path / "hashidx.dat"
    small = table_file.stat().st_size
    chain.expect_height(10236, FAR_FUTURE)
    _feed(chain, raw[HEADER_SIZE:2001 * HEADER_SIZE])
    chain.write_pending()
    sized = table_file.stat().st_size
    assert sized > small
    assert chain.store.height_of(chain.hash_at(1500) or b"") == 1500
    rebuilt = []
    original = chain.store.reserve

    def counting(records: int) -> bool:
        rebuilt.append(records)
        return original(records)

    chain.store.reserve = counting  # type: ignore[method-assign]
    _feed(chain, raw[2001 * HEADER_SIZE:])
    chain.write_pending()
    assert table_file.stat().st_size == sized  # 10,237 entries fit: no growth on the way
    assert rebuilt == []  # and no second reservation for the same claim
    chain.expect_height(2**31, FAR_FUTURE)  # a lie
    chain.write_pending()
    assert rebuilt == [chain.tip_height + RESERVE_AHEAD + 1]
    assert table_file.stat().st_size <= 64 + 8 * (1 << 22)
    assert chain.height_of(chain.hash_at(10000) or b"") == 10000
    chain.close()
