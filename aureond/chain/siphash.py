"""SipHash-2-4 (Aumasson and Bernstein), one message at a time or many at once.

BIP158 hashes every filter element and every query with SipHash-2-4 keyed by the
first 16 bytes of the block hash, so the key changes with every block. Matching a
wallet's scripts against a run of filters therefore hashes the same messages under
many keys: :class:`SipMessages` cuts the messages into their 64-bit words once, and
:func:`siphash24_keys` runs the rounds for all (message, key) pairs as numpy
``uint64`` lane arithmetic (additions wrap modulo 2**64, as SipHash wants).

Lanes are laid out one message per row, one key per column, rows sorted by block
count, longest first: block ``b`` is then absorbed by a leading slice of the rows, so
short messages simply stop taking part and no lane is masked. The work is done in
tiles small enough to stay in cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["SipMessages", "siphash24", "siphash24_keys", "split_key"]

U64 = npt.NDArray[np.uint64]

_MASK = (1 << 64) - 1
_C0 = 0x736F6D6570736575  # "somepseu"
_C1 = 0x646F72616E646F6D  # "dorandom"
_C2 = 0x6C7967656E657261  # "lygenera"
_C3 = 0x7465646279746573  # "tedbytes"
#: Lanes per tile (messages x keys): enough that the numpy calls' own cost is small
#: against their work, few enough that the six state and scratch arrays stay in cache.
_TILE_LANES = 16384


def split_key(key: bytes) -> tuple[int, int]:
    """The two little-endian 64-bit halves (k0, k1) of a 16-byte key."""
    if len(key) != 16:
        raise ValueError(f"a SipHash key is 16 bytes, got {len(key)}")
    return int.from_bytes(key[:8], "little"), int.from_bytes(key[8:], "little")


def _pad(message: bytes) -> bytes:
    """The message with its last block completed: zeros, then the length byte."""
    n = len(message)
    return message + bytes(7 - n % 8) + bytes((n & 0xFF,))


def _round(v0: int, v1: int, v2: int, v3: int) -> tuple[int, int, int, int]:
    v0 = (v0 + v1) & _MASK
    v1 = ((v1 << 13) | (v1 >> 51)) & _MASK
    v1 ^= v0
    v0 = ((v0 << 32) | (v0 >> 32)) & _MASK
    v2 = (v2 + v3) & _MASK
    v3 = ((v3 << 16) | (v3 >> 48)) & _MASK
    v3 ^= v2
    v0 = (v0 + v3) & _MASK
    v3 = ((v3 << 21) | (v3 >> 43)) & _MASK
    v3 ^= v0
    v2 = (v2 + v1) & _MASK
    v1 = ((v1 << 17) | (v1 >> 47)) & _MASK
    v1 ^= v2
    v2 = ((v2 << 32) | (v2 >> 32)) & _MASK
    return v0, v1, v2, v3


def siphash24(key: bytes, message: bytes) -> int:
    """SipHash-2-4 of ``message`` under the 16-byte ``key``, as an unsigned 64-bit int."""
    k0, k1 = split_key(key)
    v0, v1, v2, v3 = _C0 ^ k0, _C1 ^ k1, _C2 ^ k0, _C3 ^ k1
    padded = _pad(message)
    for off in range(0, len(padded), 8):
        m = int.from_bytes(padded[off:off + 8], "little")
        v3 ^= m
        v0, v1, v2, v3 = _round(*_round(v0, v1, v2, v3))
        v0 ^= m
    v2 ^= 0xFF
    for _ in range(4):
        v0, v1, v2, v3 = _round(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


@dataclass(frozen=True, slots=True)
class SipMessages:
    """Messages cut into 64-bit words once, to be hashed under any number of keys.

    ``words[b, i]`` is block ``b`` of the message in sorted position ``i`` (sorted by
    block count, longest first); ``active[b]`` is how many messages have a block ``b``;
    ``order[i]`` is the caller's index of the message in sorted position ``i``.
    """

    count: int
    words: U64
    active: tuple[int, ...]
    order: npt.NDArray[np.intp]

    @classmethod
    def of(cls, messages: Sequence[bytes]) -> SipMessages:
        n = len(messages)
        if n == 0:
            return cls(0, np.zeros((0, 0), np.uint64), (), np.zeros(0, np.intp))
        length = np.fromiter(map(len, messages), np.intp, n)
        blocks = (length >> 3) + 1                    # the last block holds the length
        order = np.argsort(-blocks, kind="stable")
        # Every message padded to whole blocks, in one buffer: zeros, then its bytes,
        # then its length byte at the end of its last block.
        first_block = np.cumsum(blocks) - blocks
        padded = np.zeros(int(blocks.sum()) * 8, np.uint8)
        data = np.frombuffer(b"".join(messages), np.uint8)
        source_start = np.cumsum(length) - length
        shift = np.repeat(first_block * 8 - source_start, length)
        padded[np.arange(data.size) + shift] = data
        padded[(first_block + blocks) * 8 - 1] = length & 0xFF
        flat = padded.view("<u8")
        rank = np.empty(n, np.intp)
        rank[order] = np.arange(n)
        owner = np.repeat(np.arange(n), blocks)
        block_index = np.arange(flat.size) - first_block[owner]
        words = np.zeros((int(blocks.max()), n), np.uint64)
        words[block_index, rank[owner]] = flat
        active = tuple(int(c) for c in np.bincount(blocks, minlength=words.shape[0] + 1)
                       [::-1].cumsum()[::-1][1:])
        return cls(n, words, active, order)


# The state is held as two stacked pairs, A = (v0, v2) and B = (v1, v3): a SipRound's
# two halves each run the same steps on (v0, v1) and (v2, v3) with different rotation
# amounts, so one numpy call does both (B[::-1] pairs v0 with v3 and v2 with v1).
_ROT_FIRST = np.array([13, 16], np.uint64).reshape(2, 1, 1)
_ROT_SECOND = np.array([17, 21], np.uint64).reshape(2, 1, 1)
_ROT_FIRST_BACK = np.uint64(64) - _ROT_FIRST
_ROT_SECOND_BACK = np.uint64(64) - _ROT_SECOND
_HALF = np.uint64(32)


def _rot(x: U64, left: U64 | np.uint64, right: U64 | np.uint64, scratch: U64) -> None:
    np.left_shift(x, left, out=scratch)
    np.right_shift(x, right, out=x)
    np.bitwise_or(x, scratch, out=x)


def _sipround(a: U64, b: U64, t: U64) -> None:
    """One SipRound on stacked lanes: ``a = (v0, v2)``, ``b = (v1, v3)``, ``t`` scratch."""
    np.add(a, b, out=a)                               # v0 += v1; v2 += v3
    _rot(b, _ROT_FIRST, _ROT_FIRST_BACK, t)           # v1 <<<= 13; v3 <<<= 16
    np.bitwise_xor(b, a, out=b)                       # v1 ^= v0; v3 ^= v2
    _rot(a[0], _HALF, _HALF, t[0])                    # v0 <<<= 32
    np.add(a, b[::-1], out=a)                         # v0 += v3; v2 += v1
    _rot(b, _ROT_SECOND, _ROT_SECOND_BACK, t)         # v1 <<<= 17; v3 <<<= 21
    np.bitwise_xor(b, a[::-1], out=b)                 # v1 ^= v2; v3 ^= v0
    _rot(a[1], _HALF, _HALF, t[1])                    # v2 <<<= 32


def _tile(k0: U64, k1: U64, messages: SipMessages) -> U64:
    """Hashes of every message (rows, sorted order) under every key (columns)."""
    shape = (2, messages.count, k0.size)
    a = np.empty(shape, np.uint64)
    b = np.empty(shape, np.uint64)
    t = np.empty(shape, np.uint64)
    np.bitwise_xor(k0, _C0, out=a[0])
    np.bitwise_xor(k0, _C2, out=a[1])
    np.bitwise_xor(k1, _C1, out=b[0])
    np.bitwise_xor(k1, _C3, out=b[1])
    for block, k in enumerate(messages.active):
        m = messages.words[block, :k, None]
        ak, bk, tk = a[:, :k], b[:, :k], t[:, :k]
        np.bitwise_xor(bk[1], m, out=bk[1])           # v3 ^= m
        _sipround(ak, bk, tk)
        _sipround(ak, bk, tk)
        np.bitwise_xor(ak[0], m, out=ak[0])           # v0 ^= m
    np.bitwise_xor(a[1], 0xFF, out=a[1])
    for _ in range(4):
        _sipround(a, b, t)
    np.bitwise_xor(a[0], a[1], out=a[0])
    np.bitwise_xor(b[0], b[1], out=b[0])
    np.bitwise_xor(a[0], b[0], out=a[0])
    hashes: U64 = a[0]
    return hashes


def siphash24_keys(keys: Sequence[bytes], messages: SipMessages) -> U64:
    """SipHash-2-4 of every message under every key: shape ``(len(keys), count)``.

    Row ``j`` holds the hashes under ``keys[j]``, in the order the messages were given.
    """
    halves = np.array([split_key(k) for k in keys], np.uint64).reshape(-1, 2)
    out = np.empty((len(keys), messages.count), np.uint64)
    if messages.count == 0 or not keys:
        return out
    per_tile = max(1, _TILE_LANES // messages.count)
    for j in range(0, len(keys), per_tile):
        part = halves[j:j + per_tile]
        hashed = _tile(part[None, :, 0], part[None, :, 1], messages)
        out[j:j + part.shape[0], messages.order] = hashed.T
    return out
