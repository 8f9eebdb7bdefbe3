"""Golomb-Rice coding: against a bit-string model written from BIP158, malformed
streams, and the batch decoder against the single one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aureond.chain import golomb
from aureond.chain.golomb import MAX_P, MIN_P, decode, decode_groups, decode_many, encode
from aureond.errors import EncodingError

# --- the model: BIP158's golomb_encode / golomb_decode, one character per bit --------


def model_encode(values: list[int], p: int) -> bytes:
    bits = []
    last = 0
    for v in values:
        delta = v - last
        last = v
        bits.append("1" * (delta >> p) + "0" + format(delta & ((1 << p) - 1), f"0{p}b"))
    text = "".join(bits)
    text += "0" * (-len(text) % 8)
    return int(text, 2).to_bytes(len(text) // 8, "big") if text else b""


def model_decode(data: bytes, n: int, p: int) -> list[int]:
    bits = "".join(format(b, "08b") for b in data)
    pos, value, out = 0, 0, []
    for _ in range(n):
        q = 0
        while bits[pos] == "1":
            q += 1
            pos += 1
        pos += 1
        value += (q << p) + int(bits[pos:pos + p], 2)
        pos += p
        out.append(value)
    return out


def sorted_values(rng: np.random.Generator, n: int, p: int, spread: int = 3) -> np.ndarray:
    deltas = rng.integers(0, spread << p, n).astype(np.uint64)
    return np.cumsum(deltas, dtype=np.uint64)


def as_ints(values: np.ndarray) -> list[int]:
    return [int(v) for v in values]


# --- encoding and decoding -----------------------------------------------------------

@pytest.mark.parametrize("p", [MIN_P, 17, 19, 20, 25, 26, MAX_P])
def test_encode_and_decode_agree_with_the_model(p: int) -> None:
    rng = np.random.default_rng(p)
    for n in (1, 2, 3, 7, 40, 300):
        values = sorted_values(rng, n, p)
        stream = encode(values, p)
        assert stream == model_encode(as_ints(values), p), (p, n)
        assert as_ints(decode(stream, n, p)) == as_ints(values), (p, n)


def test_long_unary_runs_and_zero_deltas() -> None:
    # quotients of 0, 15, 16, 17, 40 and 200: runs of ones inside one symbol, filling
    # one exactly, and spanning many; zero deltas (equal values) side by side.
    p = 19
    deltas = [0, 0, (15 << p) + 1, 16 << p, (17 << p) + (1 << p) - 1, 0, 40 << p,
              (200 << p) + 12345, 0, 7]
    values = np.cumsum(np.array(deltas, np.uint64), dtype=np.uint64)
    stream = encode(values, p)
    assert stream == model_encode(as_ints(values), p)
    assert as_ints(decode(stream, len(deltas), p)) == as_ints(values)
    flat, bounds = decode_many([(stream, len(deltas))] * 3, p)
    assert as_ints(flat[bounds[2]:bounds[3]]) == as_ints(values)


@settings(max_examples=80, deadline=None)
@given(p=st.integers(MIN_P, MAX_P),
       deltas=st.lists(st.integers(0, (1 << 26) - 1), max_size=60))
def test_roundtrip(p: int, deltas: list[int]) -> None:
    values = np.cumsum(np.array(deltas, np.uint64), dtype=np.uint64)
    stream = encode(values, p)
    assert model_decode(stream, len(deltas), p) == as_ints(values)
    assert as_ints(decode(stream, len(deltas), p)) == as_ints(values)


def test_empty_set_is_an_empty_stream() -> None:
    assert encode(np.zeros(0, np.uint64), 19) == b""
    assert decode(b"", 0, 19).size == 0


def test_unsorted_values_are_refused() -> None:
    with pytest.raises(ValueError, match="sorted"):
        encode(np.array([5, 3], np.uint64), 19)


def test_parameter_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="P must be"):
        encode(np.array([1], np.uint64), MIN_P - 1)
    with pytest.raises(ValueError, match="P must be"):
        decode(b"\x00" * 8, 1, MAX_P + 1)


# --- malformed streams ---------------------------------------------------------------

def _stream(n: int = 50, p: int = 19) -> bytes:
    return encode(sorted_values(np.random.default_rng(5), n, p), p)


def test_truncated_stream_is_refused() -> None:
    stream = _stream()
    with pytest.raises(EncodingError, match="complete codes"):
        decode(stream[:-3], 50, 19)


def test_excess_byte_is_refused() -> None:
    stream = _stream()
    with pytest.raises(EncodingError, match="excess data"):
        decode(stream + b"\x00", 50, 19)
    with pytest.raises(EncodingError, match="excess data"):
        decode(stream + b"\xff\xff\xff", 50, 19)   # no terminator in it, still excess


def test_fewer_codes_announced_than_present_is_excess_data() -> None:
    stream = _stream()
    with pytest.raises(EncodingError, match="excess data"):
        decode(stream, 49, 19)


def test_more_codes_announced_than_present_is_refused() -> None:
    stream = _stream()
    with pytest.raises(EncodingError, match="complete codes"):
        decode(stream, 51, 19)


def test_a_count_the_stream_has_no_room_for_is_refused_before_decoding() -> None:
    with pytest.raises(EncodingError, match="need at least"):
        decode(b"\x00" * 10, 5, 19)                 # 5 codes need 100 bits, 80 given
    with pytest.raises(EncodingError, match="need at least"):
        decode_many([(b"", 0), (b"\x00" * 10, 5)], 19)


def test_bytes_after_an_empty_set_are_excess_data() -> None:
    with pytest.raises(EncodingError, match="excess data"):
        decode(b"\x00", 0, 19)


def test_padding_bits_are_not_checked() -> None:
    # Like the reference node, the bits after the last code in its byte are ignored.
    values = sorted_values(np.random.default_rng(8), 3, 19)
    stream = bytearray(encode(values, 19))
    pad = len(stream) * 8 - 3 * 20 - int(sum(int(d) >> 19 for d in np.diff(values,
                                                                            prepend=0)))
    assert 0 < pad < 8
    stream[-1] |= (1 << pad) - 1
    assert as_ints(decode(bytes(stream), 3, 19)) == as_ints(values)


# --- the batch decoder ---------------------------------------------------------------

def test_batch_equals_single_across_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    # Small groups so that the walk and the finishing both run over several groups.
    monkeypatch.setattr(golomb, "_WALK_LANES", 7)
    monkeypatch.setattr(golomb, "_WALK_BLOCK", 5)
    monkeypatch.setattr(golomb, "_FINISH_LANES", 3)
    rng = np.random.default_rng(21)
    cases = []
    for i in range(40):
        n = 0 if i % 9 == 0 else int(rng.integers(1, 120))
        values = sorted_values(rng, n, 19, spread=1 + i % 4)
        cases.append((encode(values, 19), n, values))
    flat, bounds = decode_many([(s, n) for s, n, _ in cases], 19)
    assert bounds.size == len(cases) + 1
    for i, (stream, n, values) in enumerate(cases):
        got = flat[bounds[i]:bounds[i + 1]]
        assert as_ints(got) == as_ints(values), i
        assert as_ints(decode(stream, n, 19)) == as_ints(values), i


def test_batch_names_the_malformed_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(golomb, "_WALK_LANES", 4)
    good = _stream()
    streams = [(good, 50)] * 6 + [(good[:-2], 50)] + [(good, 50)] * 3
    with pytest.raises(EncodingError, match="filter 16: "):
        list(decode_groups(streams, 19, what="filter", first=10))


def test_groups_cover_every_stream_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(golomb, "_WALK_LANES", 5)
    monkeypatch.setattr(golomb, "_FINISH_LANES", 2)
    good = _stream(10)
    seen: list[int] = []
    for first, _, bounds in decode_groups([(good, 10)] * 13, 19):
        seen.extend(range(first, first + bounds.size - 1))
    assert seen == list(range(13))


def test_bases_are_added_to_each_streams_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(golomb, "_FINISH_LANES", 2)
    rng = np.random.default_rng(31)
    cases = [sorted_values(rng, n, 19) for n in (5, 0, 40, 1, 17)]
    streams = [(encode(v, 19), v.size) for v in cases]
    bases = [0, 10**12, 3, 2**40, 7]
    for start, values, bounds in decode_groups(streams, 19, bases=bases):
        for i in range(bounds.size - 1):
            got = values[bounds[i]:bounds[i + 1]]
            assert as_ints(got) == [v + bases[start + i] for v in as_ints(cases[start + i])]
