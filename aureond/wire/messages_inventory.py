"""Inventory messages: ``inv``, ``getdata``, ``notfound`` and their vectors."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Self

from aureond.errors import LocalProtocolError
from aureond.wire._checks import check_bytes, check_uint, decoding
from aureond.wire.constants import MAX_INV_SIZE
from aureond.wire.primitives import Reader, write_compact_size

__all__ = ["GetData", "Inv", "InvType", "InvVector", "NotFound"]

_MSG_WITNESS_FLAG = 1 << 30
_INV = struct.Struct("<I32s")


class InvType(IntEnum):
    """Inventory vector types (BIP37, BIP144, BIP152, BIP339)."""

    ERROR = 0
    TX = 1
    BLOCK = 2
    FILTERED_BLOCK = 3
    CMPCT_BLOCK = 4
    WTX = 5
    WITNESS_TX = TX | _MSG_WITNESS_FLAG
    WITNESS_BLOCK = BLOCK | _MSG_WITNESS_FLAG
    FILTERED_WITNESS_BLOCK = FILTERED_BLOCK | _MSG_WITNESS_FLAG


_KNOWN_TYPES = frozenset(int(t) for t in InvType)


@dataclass(frozen=True, slots=True)
class InvVector:
    """A typed hash. ``type`` stays an int: receivers ignore types they do not know."""

    type: int
    hash: bytes

    SIZE: ClassVar[int] = 36

    def __post_init__(self) -> None:
        check_uint("inventory type", self.type, 32)
        check_bytes("inventory hash", self.hash, 32)

    @property
    def known_type(self) -> InvType | None:
        """The type as an enum member, or None for a type this codec does not know."""
        return InvType(self.type) if self.type in _KNOWN_TYPES else None

    def encode(self) -> bytes:
        return _INV.pack(self.type, self.hash)


@dataclass(frozen=True, slots=True)
class _Inventory:
    """A list of at most ``MAX_INV_SIZE`` inventory vectors."""

    items: tuple[InvVector, ...]

    COMMAND: ClassVar[str]

    def __post_init__(self) -> None:
        items = tuple(self.items)
        if len(items) > MAX_INV_SIZE:
            raise LocalProtocolError(
                f"{self.COMMAND}: {len(items)} entries exceed the limit of {MAX_INV_SIZE}")
        for item in items:
            if not isinstance(item, InvVector):
                raise LocalProtocolError(f"{self.COMMAND}: entry {item!r} is not an InvVector")
        object.__setattr__(self, "items", items)

    def encode(self) -> bytes:
        return write_compact_size(len(self.items)) + b"".join(i.encode() for i in self.items)

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        with decoding(cls.COMMAND):
            r = Reader(payload)
            count = r.read_count(MAX_INV_SIZE, InvVector.SIZE, "inventory")
            items = tuple(InvVector(*_INV.unpack(r.read(InvVector.SIZE, "inventory vector")))
                          for _ in range(count))
            r.expect_end()
            return cls(items)


@dataclass(frozen=True, slots=True)
class Inv(_Inventory):
    """``inv``: the peer announces objects it has."""

    COMMAND: ClassVar[str] = "inv"


@dataclass(frozen=True, slots=True)
class GetData(_Inventory):
    """``getdata``: request objects by type and hash."""

    COMMAND: ClassVar[str] = "getdata"


@dataclass(frozen=True, slots=True)
class NotFound(_Inventory):
    """``notfound``: the peer does not have the requested objects."""

    COMMAND: ClassVar[str] = "notfound"
