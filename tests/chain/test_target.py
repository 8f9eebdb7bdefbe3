"""Compact bits <-> target: Bitcoin Core's SetCompact/GetCompact vectors and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aureond.chain.target import (
    bits_to_target,
    decode_compact,
    target_to_bits,
    work_from_bits,
)
from aureond.errors import EncodingError

# (bits, decoded value, negative, overflow) as Bitcoin Core's arith_uint256 tests state.
DECODE_VECTORS = [
    (0x00000000, 0, False, False),
    (0x00123456, 0, False, False),
    (0x01003456, 0, False, False),
    (0x02000056, 0, False, False),
    (0x03000000, 0, False, False),
    (0x04000000, 0, False, False),
    (0x00923456, 0, False, False),
    (0x01803456, 0, False, False),
    (0x02800056, 0, False, False),
    (0x03800000, 0, False, False),
    (0x04800000, 0, False, False),
    (0x01123456, 0x12, False, False),
    (0x01FEDCBA, 0x7E, True, False),
    (0x02123456, 0x1234, False, False),
    (0x03123456, 0x123456, False, False),
    (0x04123456, 0x12345600, False, False),
    (0x04923456, 0x12345600, True, False),
    (0x05009234, 0x92340000, False, False),
    (0x20123456, 0x1234560000000000000000000000000000000000000000000000000000000000,
     False, False),
    (0xFF123456, None, False, True),
]


@pytest.mark.parametrize(("bits", "value", "negative", "overflow"), DECODE_VECTORS)
def test_decode_compact_matches_reference(bits: int, value: int | None, negative: bool,
                                          overflow: bool) -> None:
    got, neg, ovf = decode_compact(bits)
    assert (neg, ovf) == (negative, overflow)
    if value is not None:
        assert got & ((1 << 256) - 1) == value


@pytest.mark.parametrize(("bits", "message"), [
    (0x00000000, "zero"),
    (0x03000000, "zero"),
    (0x01FEDCBA, "negative"),
    (0x04923456, "negative"),
    (0xFF123456, "overflow"),
    (0x01123456, "canonical"),   # canonical form of 0x12 is 0x01120000
    (0x02123456, "canonical"),   # canonical form of 0x1234 is 0x02123400
    (0x04001234, "canonical"),   # a needless leading zero byte in the mantissa
    (0x1D00FFFE + 0x100000000, "uint32"),
])
def test_bits_to_target_rejects_bad_encodings(bits: int, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        bits_to_target(bits)


@pytest.mark.parametrize(("bits", "target"), [
    (0x1D00FFFF, 0xFFFF << 208),
    (0x207FFFFF, 0x7FFFFF << 232),
    (0x1E0377AE, 0x0377AE << 216),
    (0x03123456, 0x123456),
    (0x04123456, 0x12345600),
    (0x1703BA5D, 0x03BA5D << 160),
    (0x05009234, 0x92340000),   # the zero byte is needed: 0x92 has the sign bit
])
def test_canonical_bits_decode(bits: int, target: int) -> None:
    assert bits_to_target(bits) == target
    assert target_to_bits(target) == bits


def test_work_of_difficulty_one() -> None:
    # Bitcoin Core reports 0x100010001 work for a difficulty-1 block.
    assert work_from_bits(0x1D00FFFF) == 0x100010001


@given(st.integers(min_value=1, max_value=(1 << 255) - 1))
def test_target_to_bits_is_canonical_and_rounds_down(target: int) -> None:
    bits = target_to_bits(target)
    decoded = bits_to_target(bits)
    assert decoded <= target
    assert target_to_bits(decoded) == bits
    # Rounding keeps the top 23 bits of the mantissa at least.
    assert target - decoded < (1 << max(0, target.bit_length() - 15))


@given(st.integers(min_value=0, max_value=0xFFFFFFFF))
def test_any_uint32_decodes_canonically_or_raises(bits: int) -> None:
    try:
        target = bits_to_target(bits)
    except EncodingError:
        return
    assert target > 0
    assert target_to_bits(target) == bits
