"""Synthetic header chains with real proof of work at regtest difficulty.

``bits = 0x207fffff`` puts the target just under 2**255, so about one nonce in two
meets it: grinding is cheap, yet every header is genuinely valid PoW and links to its
parent. ``salt`` makes sibling branches differ (it goes into the merkle root), and a
``merkle_of`` callback lets a chain commit to real merkle trees where proofs are needed.

The chains extend any parent, including the real regtest genesis
(``aureond.chain.params.REGTEST.genesis``), so they validate as ``regtest``.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterator

from aureond.chain.hashing import dsha256
from aureond.chain.header import HEADER_SIZE, BlockHeader
from aureond.chain.target import bits_to_target, work_from_bits

__all__ = ["REGTEST_BITS", "REGTEST_WORK", "SPACING", "extend", "iter_raw_batches",
           "make_chain", "make_genesis", "mine_raw", "unmined_header"]

REGTEST_BITS = 0x207FFFFF
REGTEST_WORK = work_from_bits(REGTEST_BITS)
SPACING = 600
"""Seconds between synthetic headers unless told otherwise."""

_TARGET = bits_to_target(REGTEST_BITS)
_PREFIX = struct.Struct("<i32s32sII")
_NONCE = struct.Struct("<I")
_GENESIS_TIME = 1_296_688_602
_VERSION = 4

MerkleOf = Callable[[int, bytes], bytes]
"""``merkle_of(height, prev_hash)``: the merkle root a synthetic header commits to."""


def _mine(prev_hash: bytes, merkle: bytes, time: int) -> tuple[bytes, bytes]:
    """(raw header, hash) of the first nonce meeting the regtest target."""
    prefix = _PREFIX.pack(_VERSION, prev_hash, merkle, time, REGTEST_BITS)
    sha = hashlib.sha256
    pack = _NONCE.pack
    nonce = 0
    while True:
        raw = prefix + pack(nonce)
        block_hash = sha(sha(raw).digest()).digest()
        # The top byte decides almost always; the full compare settles 0x7f.
        if block_hash[31] < 0x80 and int.from_bytes(block_hash, "little") <= _TARGET:
            return raw, block_hash
        nonce += 1


def _salted(salt: int) -> MerkleOf:
    suffix = salt.to_bytes(8, "little")

    def merkle(_height: int, prev_hash: bytes) -> bytes:
        return hashlib.sha256(prev_hash + suffix).digest()
    return merkle


def mine_raw(parent: BlockHeader | bytes, count: int, *, start_height: int = 1,
             spacing: int = SPACING, salt: int = 0,
             merkle_of: MerkleOf | None = None) -> tuple[bytes, bytes]:
    """``count`` raw headers on top of ``parent``; returns (raw run, last hash).

    ``parent`` is a header or its 80 raw bytes; ``start_height`` is the height of the
    first new header (given to ``merkle_of``).
    """
    raw_parent = parent.serialize() if isinstance(parent, BlockHeader) else parent
    if len(raw_parent) != HEADER_SIZE:
        raise ValueError("parent must be an 80-byte header")
    prev = dsha256(raw_parent)
    time = int.from_bytes(raw_parent[68:72], "little")
    root_of = merkle_of if merkle_of is not None else _salted(salt)
    out: list[bytes] = []
    for i in range(count):
        time += spacing
        raw, prev = _mine(prev, root_of(start_height + i, prev), time)
        out.append(raw)
    return b"".join(out), prev


def iter_raw_batches(parent: BlockHeader, total: int, batch: int, *,
                     spacing: int = SPACING,
                     merkle_of: MerkleOf | None = None) -> Iterator[bytes]:
    """``total`` headers above ``parent`` (at height 0), mined ``batch`` at a time."""
    last = parent.serialize()
    height = 1
    while height <= total:
        n = min(batch, total - height + 1)
        raw, _ = mine_raw(last, n, start_height=height, spacing=spacing,
                          merkle_of=merkle_of)
        last = raw[-HEADER_SIZE:]
        height += n
        yield raw


def unmined_header(parent: BlockHeader | bytes, *, spacing: int = SPACING) -> bytes:
    """A header linking to ``parent`` whose hash is above the regtest target (bad PoW)."""
    raw_parent = parent.serialize() if isinstance(parent, BlockHeader) else parent
    prev = dsha256(raw_parent)
    time = int.from_bytes(raw_parent[68:72], "little") + spacing
    prefix = _PREFIX.pack(_VERSION, prev, hashlib.sha256(b"bad-pow" + prev).digest(),
                          time, REGTEST_BITS)
    nonce = 0
    while True:
        raw = prefix + _NONCE.pack(nonce)
        if int.from_bytes(dsha256(raw), "little") > _TARGET:
            return raw
        nonce += 1


def make_genesis(tag: bytes = b"aureond-test-genesis") -> BlockHeader:
    raw, _ = _mine_first(hashlib.sha256(tag).digest())
    return BlockHeader.parse(raw)


def _mine_first(merkle: bytes) -> tuple[bytes, bytes]:
    return _mine(bytes(32), merkle, _GENESIS_TIME)


def extend(parent: BlockHeader, count: int, salt: int = 0, *,
           spacing: int = SPACING) -> list[BlockHeader]:
    """``count`` headers on top of ``parent``; a different ``salt`` forks."""
    raw, _ = mine_raw(parent, count, salt=salt, spacing=spacing)
    return [BlockHeader.parse(raw[o:o + HEADER_SIZE])
            for o in range(0, len(raw), HEADER_SIZE)]


def make_chain(count: int, genesis: BlockHeader | None = None) -> list[BlockHeader]:
    """Genesis plus ``count - 1`` headers (``count`` in all)."""
    first = genesis if genesis is not None else make_genesis()
    return [first, *extend(first, count - 1)]
