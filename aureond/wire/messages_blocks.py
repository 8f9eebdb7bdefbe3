"""Header sync and block data: ``getheaders``, ``headers``, ``merkleblock``, ``tx``."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Self

from aureond.chain.header import HEADER_SIZE, BlockHeader
from aureond.errors import EncodingError, LocalProtocolError
from aureond.wire._checks import ZERO_HASH, check_bytes, check_uint, decoding
from aureond.wire.constants import MAX_HEADERS_RESULTS, MAX_LOCATOR_SIZE, PROTOCOL_VERSION
from aureond.wire.primitives import MAX_COMPACT_SIZE, Reader, write_compact_size, write_var_bytes

__all__ = ["GetHeaders", "Headers", "MerkleBlock", "Tx"]

_U32 = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class GetHeaders:
    """``getheaders``: headers after the first locator hash the peer knows.

    ``locator`` lists wire-order hashes, newest first, at most ``MAX_LOCATOR_SIZE``;
    ``hash_stop`` all zero asks for as many as the peer sends (2,000).
    """

    COMMAND: ClassVar[str] = "getheaders"

    locator: tuple[bytes, ...]
    hash_stop: bytes = ZERO_HASH
    version: int = PROTOCOL_VERSION

    def __post_init__(self) -> None:
        locator = tuple(self.locator)
        if len(locator) > MAX_LOCATOR_SIZE:
            raise LocalProtocolError(
                f"locator has {len(locator)} hashes, over the limit of {MAX_LOCATOR_SIZE}")
        for h in locator:
            check_bytes("locator hash", h, 32)
        check_bytes("hash_stop", self.hash_stop, 32)
        check_uint("version", self.version, 32)
        object.__setattr__(self, "locator", locator)

    def encode(self) -> bytes:
        return b"".join((_U32.pack(self.version), write_compact_size(len(self.locator)),
                         *self.locator, self.hash_stop))

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        with decoding(cls.COMMAND):
            r = Reader(payload)
            version = r.read_u32("version")
            count = r.read_count(MAX_LOCATOR_SIZE, 32, "locator")
            locator = tuple(r.read(32, "locator hash") for _ in range(count))
            hash_stop = r.read(32, "hash stop")
            r.expect_end()
            return cls(locator, hash_stop, version)


@dataclass(frozen=True, slots=True, init=False)
class Headers:
    """``headers``: up to 2,000 block headers, each followed by a zero tx count.

    The headers are kept as one run of raw 80-byte records (``raw``), which is what
    header sync validates and stores; ``headers`` parses them into ``BlockHeader``
    values on demand. Build it from headers (``Headers((h1, h2))``) or from raw bytes
    (``Headers(raw=...)``).
    """

    COMMAND: ClassVar[str] = "headers"

    raw: bytes

    def __init__(self, headers: Iterable[BlockHeader] = (), *,
                 raw: bytes | None = None) -> None:
        if raw is None:
            items = tuple(headers)
            for h in items:
                if not isinstance(h, BlockHeader):
                    raise LocalProtocolError(f"headers entry {h!r} is not a BlockHeader")
            raw = b"".join(h.serialize() for h in items)
        elif headers:
            raise LocalProtocolError("give either headers or raw, not both")
        if len(raw) % HEADER_SIZE:
            raise LocalProtocolError(f"raw headers are {len(raw)} bytes, not a multiple "
                                     f"of {HEADER_SIZE}")
        if len(raw) // HEADER_SIZE > MAX_HEADERS_RESULTS:
            raise LocalProtocolError(f"{len(raw) // HEADER_SIZE} headers exceed the limit "
                                     f"of {MAX_HEADERS_RESULTS}")
        object.__setattr__(self, "raw", bytes(raw))

    @property
    def count(self) -> int:
        return len(self.raw) // HEADER_SIZE

    @property
    def headers(self) -> tuple[BlockHeader, ...]:
        raw = self.raw
        return tuple(BlockHeader.parse(raw[o:o + HEADER_SIZE])
                     for o in range(0, len(raw), HEADER_SIZE))

    def encode(self) -> bytes:
        raw = self.raw
        return write_compact_size(self.count) + b"".join(
            raw[o:o + HEADER_SIZE] + b"\x00" for o in range(0, len(raw), HEADER_SIZE))

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        with decoding(cls.COMMAND):
            r = Reader(payload)
            count = r.read_count(MAX_HEADERS_RESULTS, HEADER_SIZE + 1, "headers")
            start = len(payload) - r.remaining
            end = start + count * (HEADER_SIZE + 1)
            body = payload[start:end]
            if len(body) != count * (HEADER_SIZE + 1):
                raise EncodingError(f"headers: {count} entries need "
                                    f"{count * (HEADER_SIZE + 1)} bytes, got {len(body)}")
            if body[HEADER_SIZE::HEADER_SIZE + 1] != bytes(count):
                bad, value = next((i, b) for i, b in
                                  enumerate(body[HEADER_SIZE::HEADER_SIZE + 1]) if b)
                if value >= 0xFD:
                    raise EncodingError(f"header {bad}: a multi-byte tx count is "
                                        "non-canonical here; it must be the byte 0")
                raise EncodingError(f"header {bad} has tx count {value}; it must be 0")
            if end != len(payload):
                raise EncodingError(f"{len(payload) - end} trailing byte(s)")
            step = HEADER_SIZE + 1
            raw = b"".join([body[o:o + HEADER_SIZE] for o in range(0, len(body), step)])
            return cls(raw=raw)


@dataclass(frozen=True, slots=True)
class MerkleBlock:
    """``merkleblock`` (BIP37): a header and a partial merkle tree, as raw fields.

    Nothing is verified here; the chain layer walks the tree against the header.
    """

    COMMAND: ClassVar[str] = "merkleblock"

    header: BlockHeader
    total_transactions: int
    hashes: tuple[bytes, ...]
    flags: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.header, BlockHeader):
            raise LocalProtocolError("merkleblock header must be a BlockHeader")
        check_uint("total_transactions", self.total_transactions, 32)
        hashes = tuple(self.hashes)
        for h in hashes:
            check_bytes("merkleblock hash", h, 32)
        if not isinstance(self.flags, bytes):
            raise LocalProtocolError("merkleblock flags must be bytes")
        object.__setattr__(self, "hashes", hashes)

    def encode(self) -> bytes:
        return b"".join((self.header.serialize(), _U32.pack(self.total_transactions),
                         write_compact_size(len(self.hashes)), *self.hashes,
                         write_var_bytes(self.flags)))

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        with decoding(cls.COMMAND):
            r = Reader(payload)
            header = BlockHeader.parse(r.read(HEADER_SIZE, "header"))
            total = r.read_u32("total transactions")
            # no protocol maximum: the bytes actually present bound both lists
            count = r.read_count(MAX_COMPACT_SIZE, 32, "hashes")
            hashes = tuple(r.read(32, "hash") for _ in range(count))
            flags = r.read_var_bytes(MAX_COMPACT_SIZE, "flags")
            r.expect_end()
            return cls(header, total, hashes, flags)


@dataclass(frozen=True, slots=True)
class Tx:
    """``tx``: a transaction, kept as its raw serialization."""

    COMMAND: ClassVar[str] = "tx"

    raw: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.raw, bytes) or not self.raw:
            raise LocalProtocolError("a tx payload is non-empty bytes")

    def encode(self) -> bytes:
        return self.raw

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        with decoding(cls.COMMAND):
            return cls(bytes(payload))
