"""BIP37 bloom filter messages: ``filterload``, ``filteradd``, ``filterclear``."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Self

from aureond.errors import LocalProtocolError
from aureond.wire._checks import check_uint, decoding
from aureond.wire.constants import (
    MAX_BLOOM_FILTER_SIZE,
    MAX_BLOOM_HASH_FUNCS,
    MAX_FILTERADD_DATA_SIZE,
)
from aureond.wire.message_base import EmptyMessage
from aureond.wire.primitives import Reader, write_var_bytes

__all__ = ["BloomFlags", "FilterAdd", "FilterClear", "FilterLoad"]

_TAIL = struct.Struct("<IIB")


class BloomFlags(IntEnum):
    """How a matched output updates the filter (BIP37 ``nFlags``)."""

    UPDATE_NONE = 0
    UPDATE_ALL = 1
    UPDATE_P2PUBKEY_ONLY = 2


@dataclass(frozen=True, slots=True)
class FilterLoad:
    """``filterload``: install a bloom filter (at most 36,000 bytes, 50 hash functions)."""

    COMMAND: ClassVar[str] = "filterload"

    filter: bytes
    n_hash_funcs: int
    tweak: int
    flags: int = BloomFlags.UPDATE_NONE

    def __post_init__(self) -> None:
        if not isinstance(self.filter, bytes) or len(self.filter) > MAX_BLOOM_FILTER_SIZE:
            raise LocalProtocolError(
                f"bloom filter must be at most {MAX_BLOOM_FILTER_SIZE} bytes")
        check_uint("n_hash_funcs", self.n_hash_funcs, 32)
        if self.n_hash_funcs > MAX_BLOOM_HASH_FUNCS:
            raise LocalProtocolError(
                f"{self.n_hash_funcs} hash functions exceed the limit of "
                f"{MAX_BLOOM_HASH_FUNCS}")
        check_uint("tweak", self.tweak, 32)
        check_uint("flags", self.flags, 8)

    def encode(self) -> bytes:
        return write_var_bytes(self.filter) + _TAIL.pack(
            self.n_hash_funcs, self.tweak, self.flags)

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        with decoding(cls.COMMAND):
            r = Reader(payload)
            data = r.read_var_bytes(MAX_BLOOM_FILTER_SIZE, "filter")
            n_hash_funcs, tweak, flags = _TAIL.unpack(r.read(_TAIL.size, "filter parameters"))
            r.expect_end()
            return cls(data, n_hash_funcs, tweak, flags)


@dataclass(frozen=True, slots=True)
class FilterAdd:
    """``filteradd``: add one element (at most 520 bytes) to the loaded filter."""

    COMMAND: ClassVar[str] = "filteradd"

    data: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.data, bytes) or len(self.data) > MAX_FILTERADD_DATA_SIZE:
            raise LocalProtocolError(
                f"filteradd data must be at most {MAX_FILTERADD_DATA_SIZE} bytes")

    def encode(self) -> bytes:
        return write_var_bytes(self.data)

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        with decoding(cls.COMMAND):
            r = Reader(payload)
            data = r.read_var_bytes(MAX_FILTERADD_DATA_SIZE, "data")
            r.expect_end()
            return cls(data)


@dataclass(frozen=True, slots=True)
class FilterClear(EmptyMessage):
    """``filterclear``: remove the loaded filter."""

    COMMAND: ClassVar[str] = "filterclear"
