"""The vectorized proof-of-work comparison of the batch validator against plain ints."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from aureond.chain.batch import _meets_targets

U256 = st.integers(min_value=0, max_value=2**256 - 1)


def _check(pairs: list[tuple[int, int]]) -> bool:
    bits = np.array(range(len(pairs)), dtype=np.uint32)  # one "bits" per target
    targets = {i: t for i, (_, t) in enumerate(pairs)}
    hashes = [h.to_bytes(32, "little") for h, _ in pairs]
    return _meets_targets(hashes, bits, targets)


@given(st.lists(st.tuples(U256, U256), min_size=1, max_size=40))
def test_agrees_with_integer_comparison(pairs: list[tuple[int, int]]) -> None:
    assert _check(pairs) == all(h <= t for h, t in pairs)


@given(U256, st.integers(min_value=0, max_value=2**128 - 1), st.booleans())
def test_ties_in_the_top_128_bits_are_decided_by_the_rest(target: int, low: int,
                                                          above: bool) -> None:
    top = target >> 128 << 128
    hash_ = top | low
    assert _check([(hash_, target)]) == (hash_ <= target)
    assert _check([(target, target)])  # equal is enough
    if target < 2**256 - 1:
        assert not _check([(target + 1, target)])  # one more is too much


def test_shared_bits_share_a_target() -> None:
    target = 2**200
    bits = np.array([7, 7, 7], dtype=np.uint32)
    ok = [h.to_bytes(32, "little") for h in (0, target, target - 1)]
    assert _meets_targets(ok, bits, {7: target})
    bad = [*ok[:2], (target + 1).to_bytes(32, "little")]
    assert not _meets_targets(bad, bits, {7: target})
