"""Synthetic header chains with real proof of work at regtest difficulty.

``bits = 0x207fffff`` puts the target just under 2**255, so about one nonce in two
meets it: grinding is cheap, yet every header is genuinely valid PoW and links to its
parent. ``salt`` makes sibling branches differ (it goes into the merkle root).
"""

from __future__ import annotations

import hashlib
import struct

from aureond.chain.hashing import dsha256
from aureond.chain.header import BlockHeader
from aureond.chain.target import bits_to_target, work_from_bits

__all__ = ["REGTEST_BITS", "REGTEST_WORK", "extend", "make_chain", "make_genesis"]

REGTEST_BITS = 0x207FFFFF
REGTEST_WORK = work_from_bits(REGTEST_BITS)
_TARGET = bits_to_target(REGTEST_BITS)
_PREFIX = struct.Struct("<i32s32sII")
_NONCE = struct.Struct("<I")
_GENESIS_TIME = 1_296_688_602


def _mine(prev_hash: bytes, merkle: bytes, time: int) -> BlockHeader:
    prefix = _PREFIX.pack(4, prev_hash, merkle, time, REGTEST_BITS)
    nonce = 0
    while True:
        block_hash = dsha256(prefix + _NONCE.pack(nonce))
        if int.from_bytes(block_hash, "little") <= _TARGET:
            return BlockHeader(4, prev_hash, merkle, time, REGTEST_BITS, nonce, block_hash)
        nonce += 1


def make_genesis(tag: bytes = b"aureond-test-genesis") -> BlockHeader:
    return _mine(bytes(32), hashlib.sha256(tag).digest(), _GENESIS_TIME)


def extend(parent: BlockHeader, count: int, salt: int = 0) -> list[BlockHeader]:
    """``count`` headers on top of ``parent``; a different ``salt`` forks."""
    out: list[BlockHeader] = []
    prev = parent
    for _ in range(count):
        merkle = hashlib.sha256(prev.hash + salt.to_bytes(8, "little")).digest()
        prev = _mine(prev.hash, merkle, prev.time + 600)
        out.append(prev)
    return out


def make_chain(count: int, genesis: BlockHeader | None = None) -> list[BlockHeader]:
    """Genesis plus ``count - 1`` headers (``count`` in all)."""
    first = genesis if genesis is not None else make_genesis()
    return [first, *extend(first, count - 1)]
