"""CompactSize, var_str and the bounded Reader."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aureond.errors import EncodingError, LocalProtocolError
from aureond.wire.primitives import (
    Reader,
    compact_size_len,
    write_compact_size,
    write_var_bytes,
    write_var_str,
)

# (value, canonical encoding)
COMPACT_SIZE_VECTORS = [
    (0, "00"),
    (0xFC, "fc"),
    (0xFD, "fdfd00"),
    (0xFFFF, "fdffff"),
    (0x10000, "fe00000100"),
    (0xFFFFFFFF, "feffffffff"),
    (0x100000000, "ff0000000001000000"),
    (2**64 - 1, "ffffffffffffffffff"),
]

NON_CANONICAL = [
    "fd0000",              # 0 in three bytes
    "fdfc00",              # 0xfc in three bytes
    "feffff0000",          # 0xffff in five bytes
    "fe00000000",
    "ffffffffff00000000",  # 0xffffffff in nine bytes
    "ff0000000000000000",
]


@pytest.mark.parametrize(("value", "encoded"), COMPACT_SIZE_VECTORS)
def test_compact_size_vectors(value: int, encoded: str) -> None:
    raw = bytes.fromhex(encoded)
    assert write_compact_size(value) == raw
    assert compact_size_len(value) == len(raw)
    r = Reader(raw)
    assert r.read_compact_size() == value
    r.expect_end()


@pytest.mark.parametrize("encoded", NON_CANONICAL)
def test_non_canonical_compact_size_rejected(encoded: str) -> None:
    with pytest.raises(EncodingError, match="non-canonical"):
        Reader(bytes.fromhex(encoded)).read_compact_size()


@pytest.mark.parametrize("encoded", ["", "fd", "fd00", "fe000001", "ff00000000000001"])
def test_truncated_compact_size_rejected(encoded: str) -> None:
    with pytest.raises(EncodingError, match="only"):
        Reader(bytes.fromhex(encoded)).read_compact_size()


@pytest.mark.parametrize("value", [-1, 2**64])
def test_compact_size_out_of_range_is_local_error(value: int) -> None:
    with pytest.raises(LocalProtocolError):
        write_compact_size(value)


@given(st.integers(0, 2**64 - 1))
def test_compact_size_round_trip(value: int) -> None:
    raw = write_compact_size(value)
    assert len(raw) == compact_size_len(value)
    r = Reader(raw)
    assert r.read_compact_size() == value
    assert r.remaining == 0


@given(st.binary(max_size=16))
def test_compact_size_reader_parses_or_raises_encoding_error(data: bytes) -> None:
    r = Reader(data)
    try:
        value = r.read_compact_size()
    except EncodingError:
        return
    assert write_compact_size(value) == data[:r.position]


def test_reader_read_exact_and_shortage() -> None:
    r = Reader(memoryview(b"abcdef"))
    assert r.read(2) == b"ab"
    assert r.remaining == 4
    with pytest.raises(EncodingError, match="needs 5 bytes at offset 2, only 4 left"):
        r.read(5, "thing")
    assert r.position == 2  # a failed read consumes nothing
    assert r.read_rest() == b"cdef"
    r.expect_end()


def test_reader_expect_end_names_trailing_bytes() -> None:
    r = Reader(b"\x01\x02\x03")
    r.read_u8()
    with pytest.raises(EncodingError, match="2 unexpected trailing byte"):
        r.expect_end()


def test_reader_integers_little_and_big_endian() -> None:
    r = Reader(bytes.fromhex("0102" "0102" "01000080" "ffffffff" "0100000000000080"))
    assert r.read_u16() == 0x0201
    assert r.read_u16_be() == 0x0102
    assert r.read_i32() == -(2**31) + 1
    assert r.read_u32() == 2**32 - 1
    assert r.read_i64() == -(2**63) + 1
    r.expect_end()


def test_count_refused_before_allocation() -> None:
    # claims 50,000 items of 36 bytes with only 3 bytes behind it
    r = Reader(write_compact_size(50_000) + b"abc")
    with pytest.raises(EncodingError, match="needs at least 1800000 bytes"):
        r.read_count(50_000, 36, "inventory")


def test_count_over_protocol_maximum() -> None:
    with pytest.raises(EncodingError, match="exceeds the limit of 2000"):
        Reader(write_compact_size(2001) + bytes(2001 * 81)).read_count(2000, 81, "headers")


def test_var_bytes_limit() -> None:
    assert Reader(write_var_bytes(b"x" * 12)).read_var_bytes(12) == b"x" * 12
    with pytest.raises(EncodingError, match="length 13 exceeds the limit of 12"):
        Reader(write_var_bytes(b"x" * 13)).read_var_bytes(12)


@pytest.mark.parametrize(("raw", "text"), [
    (b"/Satoshi:27.0.0/", "/Satoshi:27.0.0/"),
    ("h\u00e9".encode(), "h\u00e9"),
    (b"bad\xff\xfe", "bad??"),   # not UTF-8: each non-ASCII byte reads as '?'
])
def test_var_str_decoding(raw: bytes, text: str) -> None:
    assert Reader(write_var_bytes(raw)).read_var_str(256) == text


def test_var_str_writes_utf8() -> None:
    assert write_var_str("h\u00e9") == b"\x03h\xc3\xa9"
