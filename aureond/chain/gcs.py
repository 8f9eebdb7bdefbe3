"""Golomb-coded sets (BIP158): probabilistic set membership with a 1/M false-positive rate.

A set of ``N`` byte strings is hashed with SipHash-2-4 under a 16-byte key and mapped
uniformly onto ``[0, N * M)`` (the 128-bit product's top 64 bits, Lemire's
multiply-shift); the sorted values are stored as the Golomb-Rice codes of their
differences with parameter ``P`` (:mod:`aureond.chain.golomb`). Serialized, a set is
``CompactSize(N)`` followed by that stream.

Matching hashes the queries the same way and looks for equal values. Since the key
(and ``N``) differ per filter, a wallet's scripts are hashed again for every filter:
:class:`QuerySet` prepares them once and :func:`match_filters` then matches many
filters at once, decoding them together and hashing every query under every filter's
key in vector arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from aureond.chain import golomb
from aureond.chain.siphash import SipMessages, siphash24, siphash24_keys
from aureond.chain.tx import compact_size, read_count
from aureond.errors import EncodingError

__all__ = [
    "GCSFilter",
    "GCSParams",
    "QuerySet",
    "hash_to_range",
    "match_filters",
]

U64 = npt.NDArray[np.uint64]

_LOW32 = np.uint64(0xFFFF_FFFF)
#: Hash lanes (queries x filters) computed at once by :meth:`QuerySet.targets`.
_TARGET_LANES = 32768
_S32 = np.uint64(32)


@dataclass(frozen=True, slots=True)
class GCSParams:
    """A GCS type: remainder bits ``p`` and inverse false-positive rate ``m``."""

    p: int
    m: int

    def __post_init__(self) -> None:
        if not golomb.MIN_P <= self.p <= golomb.MAX_P:
            raise ValueError(f"P must be in [{golomb.MIN_P}, {golomb.MAX_P}], got {self.p}")
        if not 1 <= self.m < 1 << 32:
            raise ValueError(f"M must be in [1, 2**32), got {self.m}")


def hash_to_range(hashes: U64, f: int | U64) -> U64:
    """``(hash * f) >> 64`` for 64-bit ``hashes`` and ``f``, element by element.

    The 128-bit product is assembled from four 32 x 32-bit products, as numpy has no
    wider integers; ``f`` may be one range or one per row (broadcast).
    """
    x = np.asarray(hashes, np.uint64)
    n = np.asarray(f, np.uint64)
    x_lo, x_hi = x & _LOW32, x >> _S32
    n_lo, n_hi = n & _LOW32, n >> _S32
    lo_hi = x_lo * n_hi
    hi_lo = x_hi * n_lo
    middle = ((x_lo * n_lo) >> _S32) + (lo_hi & _LOW32) + (hi_lo & _LOW32)
    high: U64 = x_hi * n_hi + (lo_hi >> _S32) + (hi_lo >> _S32) + (middle >> _S32)
    return high


def _as_bytes(element: bytes) -> bytes:
    return element if type(element) is bytes else bytes(element)


def _hash_one(key: bytes, element: bytes, f: int) -> int:
    return (siphash24(key, element) * f) >> 64


@dataclass(frozen=True, slots=True)
class QuerySet:
    """Elements prepared once for matching against any number of filters."""

    elements: tuple[bytes, ...]
    messages: SipMessages

    @classmethod
    def of(cls, elements: Iterable[bytes]) -> QuerySet:
        unique = tuple(dict.fromkeys(_as_bytes(e) for e in elements))
        return cls(unique, SipMessages.of(unique))

    def __len__(self) -> int:
        return len(self.elements)

    def targets(self, filters: Sequence[GCSFilter]) -> U64:
        """Row ``j``: every element mapped into ``filters[j]``'s range under its key,
        sorted. Computed a few filters at a time, so that the temporaries stay small."""
        out = np.empty((len(filters), len(self.elements)), np.uint64)
        step = max(1, _TARGET_LANES // max(1, len(self.elements)))
        for lo in range(0, len(filters), step):
            part = filters[lo:lo + step]
            hashes = siphash24_keys([f.key for f in part], self.messages)
            ranges = np.array([f.n * f.params.m for f in part], np.uint64)
            mapped = hash_to_range(hashes, ranges[:, None])
            mapped.sort(axis=1)
            out[lo:lo + len(part)] = mapped
        return out


@dataclass(frozen=True, slots=True)
class GCSFilter:
    """A Golomb-coded set: its parameters, SipHash key, element count and stream."""

    params: GCSParams
    key: bytes
    n: int
    stream: bytes

    def __post_init__(self) -> None:
        if len(self.key) != 16:
            raise ValueError(f"a GCS key is 16 bytes, got {len(self.key)}")

    @classmethod
    def build(cls, params: GCSParams, key: bytes, elements: Iterable[bytes]) -> GCSFilter:
        """The set of ``elements`` (duplicates count once) under ``key``."""
        unique = list(dict.fromkeys(_as_bytes(e) for e in elements))
        n = len(unique)
        if n >= 1 << 32:
            raise ValueError(f"a GCS holds fewer than 2**32 elements, got {n}")
        if n == 0:
            return cls(params, key, 0, b"")
        hashes = siphash24_keys([key], SipMessages.of(unique))[0]
        values = np.sort(hash_to_range(hashes, n * params.m))
        return cls(params, key, n, golomb.encode(values, params.p))

    @classmethod
    def parse(cls, params: GCSParams, key: bytes, encoded: bytes) -> GCSFilter:
        """A serialized set: ``CompactSize(N)`` and the stream.

        Only the count is checked here (canonical, and no more codes than the stream
        has room for); the stream is checked by decoding, which raises
        :class:`~aureond.errors.EncodingError` unless it holds exactly ``N`` codes
        (see :meth:`values`, :meth:`validate`).
        """
        raw = bytes(encoded)
        n, off = read_count(raw, 0, "filter element count", 0)
        stream = raw[off:]
        if n * (params.p + 1) > len(stream) * 8:
            raise EncodingError(f"filter of {n} elements needs at least "
                                f"{n * (params.p + 1)} bits, has {len(stream) * 8}")
        return cls(params, key, n, stream)

    @property
    def f(self) -> int:
        """The hash range ``N * M``."""
        return self.n * self.params.m

    def serialize(self) -> bytes:
        return compact_size(self.n) + self.stream

    def values(self) -> U64:
        """The sorted hashed values the stream codes (decodes it: about a millisecond
        for a full block's filter)."""
        return golomb.decode(self.stream, self.n, self.params.p)

    def validate(self) -> None:
        """Raise :class:`~aureond.errors.EncodingError` unless the stream holds exactly
        ``N`` codes and nothing after them."""
        self.values()

    def match(self, element: bytes) -> bool:
        """Whether ``element`` may be in the set (false positives at rate 1/M)."""
        if self.n == 0:
            return False
        target = _hash_one(self.key, bytes(element), self.f)
        values = self.values()
        i = int(np.searchsorted(values, np.uint64(target)))
        return i < values.size and int(values[i]) == target

    def match_any(self, elements: Iterable[bytes] | QuerySet) -> bool:
        """Whether any of ``elements`` may be in the set."""
        queries = elements if isinstance(elements, QuerySet) else QuerySet.of(elements)
        return match_filters([self], queries)[0]


def _any_equal(values: U64, targets: U64) -> bool:
    """Whether one of the sorted ``targets`` equals one of the sorted ``values`` (the
    sorted merge of BIP158's appendix, as one vector search: with sorted targets each
    search starts where the one before ended)."""
    if values.size == 0 or targets.size == 0:
        return False
    at = np.searchsorted(values, targets)
    np.minimum(at, values.size - 1, out=at)
    return bool(np.any(values[at] == targets))


def _each_equal(values: U64, targets: U64) -> npt.NDArray[np.bool_]:
    """For each row of sorted ``targets``, whether one equals one of ``values``."""
    if values.size == 0:
        return np.zeros(targets.shape[0], np.bool_)
    at = np.searchsorted(values, targets.ravel())
    np.minimum(at, values.size - 1, out=at)
    hits = (values[at] == targets.ravel()).reshape(targets.shape)
    found: npt.NDArray[np.bool_] = np.any(hits, axis=1)
    return found


#: Filters matched per round: their query hashes (8 bytes per query each) and their
#: decode scratch are held at once.
_ROUND = 512
#: Below this many filters, each is decoded on its own (a Python walk of about a
#: millisecond) rather than in numpy lanes, whose steps cost the same for 1 or 500.
_LANE_MIN = 24


def match_filters(filters: Sequence[GCSFilter], queries: QuerySet) -> list[bool]:
    """For each filter, whether any of ``queries`` may be in it.

    The filters are decoded together (:func:`aureond.chain.golomb.decode_groups`)
    and every query is hashed under every filter's key at once. All filters must
    share one :class:`GCSParams`. A filter whose stream is malformed raises
    :class:`~aureond.errors.EncodingError` naming its index in ``filters``.
    """
    if not filters:
        return []
    params = filters[0].params
    if any(f.params != params for f in filters):
        raise ValueError("match_filters: the filters must share their GCS parameters")
    result = [False] * len(filters)
    if len(queries) == 0:
        return result
    for lo in range(0, len(filters), _ROUND):
        chunk = filters[lo:lo + _ROUND]
        if len(chunk) < _LANE_MIN:
            targets = queries.targets(chunk)
            for j, f in enumerate(chunk):
                try:
                    values = f.values()
                except EncodingError as exc:
                    raise EncodingError(f"filter {lo + j}: {exc}") from exc
                result[lo + j] = _any_equal(values, targets[j])
            continue
        # Each filter's values shifted by the ranges of the filters before it: the
        # values of a group of filters form one sorted array, searched once. The
        # queries are hashed for a group at a time, just before they are needed.
        ranges = np.array([f.f for f in chunk], np.int64)
        bases = np.cumsum(ranges) - ranges
        streams = [(f.stream, f.n) for f in chunk]
        groups = golomb.decode_groups(streams, params.p, what="filter", first=lo,
                                      bases=bases)
        for first, values, bounds in groups:
            count = bounds.size - 1
            part = chunk[first:first + count]
            shifted = queries.targets(part) + bases[first:first + count, None].astype(np.uint64)
            found = _each_equal(values, shifted)
            for i, f in enumerate(part):
                result[lo + first + i] = bool(found[i]) and f.n > 0
    return result
