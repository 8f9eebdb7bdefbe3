"""The proof-of-work hash of a header, by network.

A network names its proof-of-work hash (``NetworkParams.pow_hash``):

* ``sha256d``: the block hash itself (Bitcoin and its test networks);
* ``scrypt``: Litecoin's, ``scrypt(N=1024, r=1, p=1, dklen=32)`` of the 80-byte header
  with the header as its own salt. The block hash stays double SHA-256.

The proof of work compares this hash, read as a little-endian number, to the target.
scrypt costs about a third of a millisecond a header, so a network may carry a faster
implementation of its hash (``NetworkParams.pow_hasher``, injected by the layer that
runs the node, e.g. one that spreads a run over several cores); without one the
reference implementation here is used. Either way the result must be the same bytes.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Sequence

from aureond.chain.header import HEADER_SIZE

__all__ = ["POW_HASHES", "PowHasher", "reference_hasher", "scrypt_hash", "scrypt_hashes"]

PowHasher = Callable[[bytes], list[bytes]]
"""Concatenated 80-byte headers in, one 32-byte proof-of-work hash (wire order) out each."""

POW_HASHES = ("sha256d", "scrypt")

_RECORD = struct.Struct(f"{HEADER_SIZE}s")


def scrypt_hash(header: bytes) -> bytes:
    """Litecoin's proof-of-work hash of one 80-byte header."""
    return hashlib.scrypt(header, salt=header, n=1024, r=1, p=1, dklen=32)


def scrypt_hashes(raw: bytes) -> list[bytes]:
    """``scrypt_hash`` of every 80-byte record in ``raw``."""
    s = hashlib.scrypt
    return [s(r[0], salt=r[0], n=1024, r=1, p=1, dklen=32) for r in _RECORD.iter_unpack(raw)]


def reference_hasher(pow_hash: str) -> PowHasher | None:
    """The plain implementation of ``pow_hash``; ``None`` for ``sha256d`` (whose proof
    of work hash is the block hash the caller already has)."""
    if pow_hash == "sha256d":
        return None
    if pow_hash == "scrypt":
        return scrypt_hashes
    raise ValueError(f"unknown proof-of-work hash {pow_hash!r}; one of {', '.join(POW_HASHES)}")


def pow_hashes_of(hasher: PowHasher | None, raw: bytes,
                  block_hashes: Sequence[bytes]) -> list[bytes]:
    """The proof-of-work hashes of ``raw``: ``block_hashes`` when the network's PoW hash
    is the block hash (``hasher`` is ``None``), else what ``hasher`` computes."""
    if hasher is None:
        return list(block_hashes)
    out = hasher(raw)
    if len(out) != len(block_hashes):
        raise ValueError(f"the proof-of-work hasher gave {len(out)} hashes for "
                         f"{len(block_hashes)} headers")
    return out
