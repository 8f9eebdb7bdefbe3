"""Primitive wire encodings: fixed-width integers, CompactSize, var_bytes, var_str.

Decoding goes through a bounded :class:`Reader`. Every shortfall, non-canonical
CompactSize or over-long field raises :class:`~aureond.errors.EncodingError`; message
decoders translate it into a ``RemoteProtocolError`` that names the command. Writers
raise :class:`~aureond.errors.LocalProtocolError`: encoding an invalid value is our bug.
"""

from __future__ import annotations

import struct

from aureond.errors import EncodingError, LocalProtocolError

__all__ = [
    "MAX_COMPACT_SIZE",
    "Reader",
    "compact_size_len",
    "write_compact_size",
    "write_var_bytes",
    "write_var_str",
]

#: Largest value a CompactSize can carry.
MAX_COMPACT_SIZE = 0xFFFF_FFFF_FFFF_FFFF

_U16 = struct.Struct("<H")
_U16_BE = struct.Struct(">H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")


class Reader:
    """A cursor over bytes that never reads past the end.

    ``read(n)`` returns exactly ``n`` bytes or raises ``EncodingError``; counts are
    checked against both a protocol maximum and the bytes actually left, so a hostile
    count never causes a large allocation.
    """

    __slots__ = ("_pos", "_view")

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        self._view = view if view.format == "B" and view.ndim == 1 else view.cast("B")
        self._pos = 0

    @property
    def remaining(self) -> int:
        """Bytes not yet read."""
        return len(self._view) - self._pos

    @property
    def position(self) -> int:
        """Bytes read so far."""
        return self._pos

    def read(self, n: int, what: str = "field") -> bytes:
        """Exactly ``n`` bytes."""
        if n < 0:
            raise EncodingError(f"{what}: negative length {n}")
        end = self._pos + n
        if end > len(self._view):
            raise EncodingError(
                f"{what}: needs {n} bytes at offset {self._pos}, only {self.remaining} left")
        chunk = self._view[self._pos:end].tobytes()
        self._pos = end
        return chunk

    def read_rest(self) -> bytes:
        """Everything not yet read (possibly nothing)."""
        return self.read(self.remaining)

    def read_u8(self, what: str = "u8") -> int:
        return self.read(1, what)[0]

    def read_u16(self, what: str = "u16") -> int:
        value: int = _U16.unpack(self.read(2, what))[0]
        return value

    def read_u16_be(self, what: str = "u16be") -> int:
        value: int = _U16_BE.unpack(self.read(2, what))[0]
        return value

    def read_u32(self, what: str = "u32") -> int:
        value: int = _U32.unpack(self.read(4, what))[0]
        return value

    def read_i32(self, what: str = "i32") -> int:
        value: int = _I32.unpack(self.read(4, what))[0]
        return value

    def read_u64(self, what: str = "u64") -> int:
        value: int = _U64.unpack(self.read(8, what))[0]
        return value

    def read_i64(self, what: str = "i64") -> int:
        value: int = _I64.unpack(self.read(8, what))[0]
        return value

    def read_bool(self, what: str = "bool") -> bool:
        """One byte; any non-zero value is true (as the reference node reads it)."""
        return self.read_u8(what) != 0

    def read_compact_size(self, what: str = "compact size") -> int:
        """A CompactSize, rejecting non-minimal encodings."""
        first = self.read_u8(what)
        if first < 0xFD:
            return first
        if first == 0xFD:
            value, minimum = self.read_u16(what), 0xFD
        elif first == 0xFE:
            value, minimum = self.read_u32(what), 0x1_0000
        else:
            value, minimum = self.read_u64(what), 0x1_0000_0000
        if value < minimum:
            raise EncodingError(f"{what}: non-canonical CompactSize encoding of {value}")
        return value

    def read_count(self, maximum: int, item_size: int, what: str) -> int:
        """A CompactSize element count, at most ``maximum`` and fitting the bytes left.

        ``item_size`` is the smallest encoding of one element; a count whose elements
        could not possibly fit in what is left is refused before anything is allocated.
        """
        count = self.read_compact_size(f"{what} count")
        if count > maximum:
            raise EncodingError(f"{what}: count {count} exceeds the limit of {maximum}")
        if count * item_size > self.remaining:
            raise EncodingError(
                f"{what}: count {count} needs at least {count * item_size} bytes, "
                f"only {self.remaining} left")
        return count

    def read_var_bytes(self, maximum: int, what: str = "var_bytes") -> bytes:
        """CompactSize length then that many bytes; the length is at most ``maximum``."""
        length = self.read_compact_size(f"{what} length")
        if length > maximum:
            raise EncodingError(f"{what}: length {length} exceeds the limit of {maximum}")
        return self.read(length, what)

    def read_var_str(self, maximum: int, what: str = "var_str") -> str:
        """A var_bytes decoded as UTF-8.

        Text that is not valid UTF-8 is not an error (peers are lax here): each
        non-ASCII byte then reads as ``?``, which keeps the text's byte length.
        """
        raw = self.read_var_bytes(maximum, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return bytes(b if b < 0x80 else 0x3F for b in raw).decode("ascii")

    def expect_end(self, what: str = "payload") -> None:
        """Raise unless every byte was read (strict: no trailing data)."""
        if self.remaining:
            raise EncodingError(f"{what}: {self.remaining} unexpected trailing byte(s)")


def compact_size_len(value: int) -> int:
    """How many bytes the CompactSize encoding of ``value`` takes."""
    if value < 0xFD:
        return 1
    if value <= 0xFFFF:
        return 3
    if value <= 0xFFFF_FFFF:
        return 5
    return 9


def write_compact_size(value: int) -> bytes:
    """The canonical (minimal) CompactSize encoding of ``value``."""
    if not 0 <= value <= MAX_COMPACT_SIZE:
        raise LocalProtocolError(f"CompactSize out of range: {value}")
    if value < 0xFD:
        return bytes((value,))
    if value <= 0xFFFF:
        return b"\xfd" + _U16.pack(value)
    if value <= 0xFFFF_FFFF:
        return b"\xfe" + _U32.pack(value)
    return b"\xff" + _U64.pack(value)


def write_var_bytes(data: bytes) -> bytes:
    """CompactSize length followed by ``data``."""
    return write_compact_size(len(data)) + data


def write_var_str(text: str) -> bytes:
    """``text`` as UTF-8 var_bytes."""
    return write_var_bytes(text.encode("utf-8"))
