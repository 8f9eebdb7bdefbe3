"""The parallel proof-of-work hasher: the same bytes as the reference, in order."""

from __future__ import annotations

import os

import pytest

from aureond.chain.header import HEADER_SIZE
from aureond.chain.params import LITECOIN_REGTEST, MAINNET
from aureond.chain.pow import scrypt_hashes
from aureond.service.powpool import PowPool, parallel_params

RAW = os.urandom(41 * HEADER_SIZE)


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("count", [0, 1, 7, 8, 9, 17, 41])
def test_pool_gives_the_reference_hashes_in_order(workers: int, count: int) -> None:
    raw = RAW[:count * HEADER_SIZE]
    with PowPool(scrypt_hashes, workers) as pool:
        assert pool(raw) == scrypt_hashes(raw)


def test_pool_really_hands_out_shares() -> None:
    seen: list[int] = []

    def recording(raw: bytes) -> list[bytes]:
        seen.append(len(raw) // HEADER_SIZE)
        return scrypt_hashes(raw)

    with PowPool(recording, 2) as pool:
        pool(RAW[:10 * HEADER_SIZE])
        assert sorted(seen) == [5, 5]
        seen.clear()
        pool(RAW[:7 * HEADER_SIZE])  # fewer than two shares' worth: done in place
        assert seen == [7]


def test_parallel_params_only_for_networks_whose_pow_is_not_the_block_hash() -> None:
    params, pool = parallel_params(MAINNET, 2)
    assert pool is None
    assert params is MAINNET
    params, pool = parallel_params(LITECOIN_REGTEST, 2)
    assert pool is not None
    try:
        assert params.pow_function is pool
        assert params == LITECOIN_REGTEST
    finally:
        pool.close()
