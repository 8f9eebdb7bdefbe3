"""Golomb-coded sets: range mapping, build/parse, membership, false positives, and the
batch matcher against one filter at a time."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aureond.chain import gcs
from aureond.chain.gcs import GCSFilter, GCSParams, QuerySet, hash_to_range, match_filters
from aureond.chain.siphash import siphash24
from aureond.errors import EncodingError

BASIC = GCSParams(19, 784931)
KEY = bytes(range(100, 116))


def scripts(rng: np.random.Generator, count: int) -> list[bytes]:
    return [rng.bytes(int(n)) for n in rng.integers(20, 41, count)]


# --- hashing to the range --------------------------------------------------------------

def test_hash_to_range_is_the_top_half_of_the_128_bit_product() -> None:
    rng = np.random.default_rng(1)
    edge = [0, 1, 2**32 - 1, 2**32, 2**63, 2**64 - 1]
    hashes = edge + [int(x) for x in rng.integers(0, 2**64 - 1, 200, dtype=np.uint64)]
    for f in [*edge[1:], 784931 * 8500, int(rng.integers(1, 2**63))]:
        got = hash_to_range(np.array(hashes, np.uint64), f)
        assert [int(g) for g in got] == [(h * f) >> 64 for h in hashes], f


def test_hash_to_range_broadcasts_one_range_per_row() -> None:
    hashes = np.array([[2**64 - 1, 2**63], [2**62, 5]], np.uint64)
    ranges = np.array([[10], [2**40]], np.uint64)
    got = hash_to_range(hashes, ranges)
    assert got.tolist() == [[9, 5], [2**38, 0]]


# --- building, parsing, serializing ------------------------------------------------------

def test_build_parse_serialize_roundtrip() -> None:
    elements = scripts(np.random.default_rng(2), 300)
    built = GCSFilter.build(BASIC, KEY, elements + elements[:40])   # duplicates once
    assert built.n == 300
    raw = built.serialize()
    assert raw[:3] == b"\xfd\x2c\x01"                               # CompactSize(300)
    parsed = GCSFilter.parse(BASIC, KEY, raw)
    assert parsed == built
    values = parsed.values()
    assert values.size == 300
    assert bool(np.all(values[1:] >= values[:-1]))
    assert int(values[-1]) < built.f
    expected = sorted((siphash24(KEY, e) * built.f) >> 64 for e in set(elements))
    assert [int(v) for v in values] == expected


def test_empty_filter() -> None:
    empty = GCSFilter.build(BASIC, KEY, [])
    assert empty.serialize() == b"\x00"
    assert GCSFilter.parse(BASIC, KEY, b"\x00") == empty
    assert not empty.match(b"anything")
    assert not empty.match_any([b"a", b"b"])
    assert match_filters([empty], QuerySet.of([b"a"])) == [False]


def test_parse_refuses_counts_the_stream_cannot_hold() -> None:
    with pytest.raises(EncodingError, match="needs at least"):
        GCSFilter.parse(BASIC, KEY, b"\x05" + bytes(10))
    with pytest.raises(EncodingError, match="non-canonical"):
        GCSFilter.parse(BASIC, KEY, b"\xfd\x05\x00" + bytes(20))
    with pytest.raises(EncodingError, match="exceeds"):
        GCSFilter.parse(BASIC, KEY, b"\xfe\x00\x00\x00\x10")


def test_a_malformed_stream_is_found_when_decoded() -> None:
    good = GCSFilter.build(BASIC, KEY, scripts(np.random.default_rng(3), 50)).serialize()
    bad = GCSFilter.parse(BASIC, KEY, good + b"\x00")
    with pytest.raises(EncodingError, match="excess data"):
        bad.validate()
    with pytest.raises(EncodingError, match="excess data"):
        bad.match(b"x")


def test_params_and_key_are_checked() -> None:
    with pytest.raises(ValueError, match="P must be"):
        GCSParams(8, 256)
    with pytest.raises(ValueError, match="M must be"):
        GCSParams(19, 0)
    with pytest.raises(ValueError, match="16 bytes"):
        GCSFilter(BASIC, bytes(15), 0, b"")


# --- membership ---------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(elements=st.lists(st.binary(min_size=1, max_size=60), min_size=1, max_size=80),
       key=st.binary(min_size=16, max_size=16))
def test_every_member_matches(elements: list[bytes], key: bytes) -> None:
    f = GCSFilter.parse(BASIC, key, GCSFilter.build(BASIC, key, elements).serialize())
    assert all(f.match(e) for e in elements)
    assert f.match_any(elements)
    assert match_filters([f], QuerySet.of(elements[-1:])) == [True]


def _false_positives(params: GCSParams, n: int, queries: int, seed: int) -> tuple[int, float]:
    rng = np.random.default_rng(seed)
    members = scripts(rng, n)
    f = GCSFilter.build(params, rng.bytes(16), members)
    known = set(members)
    others = [q for q in scripts(rng, queries) if q not in known]
    values = f.values()
    hashed = QuerySet.of(others).targets([f])[0]
    hits = int(np.isin(hashed, values).sum())
    # A uniform query lands on one of the set's distinct values with this chance.
    rate = np.unique(values).size / f.f
    return hits, rate * len(others)


def test_false_positive_rate_is_one_in_m() -> None:
    # A small M makes the rate measurable: expect ~ queries / M false positives.
    params = GCSParams(16, 64)
    hits, expected = _false_positives(params, 400, 40_000, seed=9)
    assert abs(expected - 40_000 / 64) < 40_000 / 64 * 0.02
    sigma = math.sqrt(expected)
    assert abs(hits - expected) < 5 * sigma, (hits, expected)


def test_basic_params_false_positives_are_rare() -> None:
    hits, expected = _false_positives(BASIC, 2000, 20_000, seed=10)
    assert expected < 0.03
    assert hits <= 1


# --- the batch matcher --------------------------------------------------------------------

@pytest.mark.parametrize("lane_min", [1, 1000], ids=["numpy-lanes", "one-by-one"])
def test_match_filters_agrees_with_one_at_a_time(monkeypatch: pytest.MonkeyPatch,
                                                 lane_min: int) -> None:
    monkeypatch.setattr(gcs, "_ROUND", 9)      # several rounds
    monkeypatch.setattr(gcs, "_LANE_MIN", lane_min)
    rng = np.random.default_rng(12)
    watched = scripts(rng, 60)
    filters, expected = [], []
    for i in range(30):
        members = scripts(rng, int(rng.integers(0, 400)) if i % 7 else 0)
        planted = i % 3 == 0 and members
        if planted:
            members.append(watched[i])
        filters.append(GCSFilter.build(BASIC, rng.bytes(16), members))
        expected.append(bool(planted))
    queries = QuerySet.of(watched)
    got = match_filters(filters, queries)
    assert got == expected
    assert got == [f.match_any(watched) for f in filters]
    assert got == [any(f.match(w) for w in watched) for f in filters]


def test_match_filters_with_no_queries_or_filters() -> None:
    f = GCSFilter.build(BASIC, KEY, [b"a"])
    assert match_filters([f, f], QuerySet.of([])) == [False, False]
    assert match_filters([], QuerySet.of([b"a"])) == []


@pytest.mark.parametrize("lane_min", [1, 1000], ids=["numpy-lanes", "one-by-one"])
def test_match_filters_names_the_malformed_filter(monkeypatch: pytest.MonkeyPatch,
                                                  lane_min: int) -> None:
    monkeypatch.setattr(gcs, "_LANE_MIN", lane_min)
    rng = np.random.default_rng(13)
    good = GCSFilter.build(BASIC, KEY, scripts(rng, 30))
    bad = GCSFilter(BASIC, KEY, good.n, good.stream + b"\x01")
    with pytest.raises(EncodingError, match="filter 2: "):
        match_filters([good, good, bad, good], QuerySet.of([b"x"]))


def test_match_filters_needs_one_parameter_set() -> None:
    a = GCSFilter.build(BASIC, KEY, [b"a"])
    b = GCSFilter.build(GCSParams(20, 1 << 20), KEY, [b"a"])
    with pytest.raises(ValueError, match="share"):
        match_filters([a, b], QuerySet.of([b"a"]))
