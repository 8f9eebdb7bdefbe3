"""The 80-byte block header: codec and hash."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from aureond.chain.hashing import dsha256, hash_to_display
from aureond.errors import EncodingError

__all__ = ["HEADER_SIZE", "BlockHeader", "iter_raw_headers"]

HEADER_SIZE = 80
_HEADER = struct.Struct("<i32s32sIII")


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """A block header. Hashes are wire-order bytes; ``hash`` is computed once."""

    version: int
    prev_hash: bytes
    merkle_root: bytes
    time: int
    bits: int
    nonce: int
    hash: bytes = field(default=b"", compare=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.prev_hash) != 32 or len(self.merkle_root) != 32:
            raise EncodingError("prev_hash and merkle_root must be 32 bytes")
        for name, value in (("time", self.time), ("bits", self.bits), ("nonce", self.nonce)):
            if not 0 <= value <= 0xFFFFFFFF:
                raise EncodingError(f"{name} out of range for uint32: {value}")
        if not -(2**31) <= self.version < 2**31:
            raise EncodingError(f"version out of range for int32: {self.version}")
        if not self.hash:
            object.__setattr__(self, "hash", dsha256(self.serialize()))

    @classmethod
    def parse(cls, raw: bytes | memoryview) -> BlockHeader:
        """Decode exactly 80 bytes."""
        if len(raw) != HEADER_SIZE:
            raise EncodingError(f"a header is {HEADER_SIZE} bytes, got {len(raw)}")
        raw = bytes(raw)
        version, prev, merkle, time_, bits, nonce = _HEADER.unpack(raw)
        return cls(version, prev, merkle, time_, bits, nonce, dsha256(raw))

    @classmethod
    def from_hex(cls, text: str) -> BlockHeader:
        try:
            raw = bytes.fromhex(text)
        except ValueError as exc:
            raise EncodingError("header hex is not valid hex") from exc
        return cls.parse(raw)

    def serialize(self) -> bytes:
        return _HEADER.pack(self.version, self.prev_hash, self.merkle_root,
                            self.time, self.bits, self.nonce)

    @property
    def hash_hex(self) -> str:
        """The block hash in display order."""
        return hash_to_display(self.hash)


def iter_raw_headers(blob: bytes) -> list[bytes]:
    """Split concatenated 80-byte headers; the length must be a multiple of 80."""
    if len(blob) % HEADER_SIZE:
        raise EncodingError(
            f"header data is {len(blob)} bytes, not a multiple of {HEADER_SIZE}")
    return [blob[i:i + HEADER_SIZE] for i in range(0, len(blob), HEADER_SIZE)]
