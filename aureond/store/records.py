"""Record layouts of ``headers.dat`` and ``index.dat`` and the raw file I/O on them.

``headers.dat``: record *i* is the 80-byte wire header at height ``anchor + i``.
``index.dat``:   record *i* is 64 bytes: the block hash (32, wire order) and the
                 cumulative chain work through that header (32, big-endian).

Why a full index record per height rather than one every K heights: it makes
``chainwork_at``, ``hash_at`` and hash-table verification one 64-byte pread with no
summing, and it lets the open-time check compare each tail record with its own hash.
The cost is 64 bytes per header on disk (64 MB per million), none of it in RAM.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from itertools import repeat
from typing import Literal

import numpy as np

from aureond.chain.header import HEADER_SIZE

__all__ = ["HEADERS_FILE", "HEADER_SIZE", "INDEX_FILE", "INDEX_SIZE", "index_blob",
           "pack_index", "pread_full", "pwrite_full", "unpack_index"]

HEADERS_FILE = "headers.dat"
INDEX_FILE = "index.dat"
INDEX_SIZE = 64
_WORK_BYTES = 32
_BIG: repeat[Literal["big"]] = repeat("big")


def pack_index(block_hash: bytes, chainwork: int) -> bytes:
    return block_hash + chainwork.to_bytes(_WORK_BYTES, "big")


def index_blob(hashes: bytes, chainworks: Sequence[int]) -> bytes:
    """``pack_index`` of a whole run at once: ``hashes`` concatenated (32 bytes each),
    one cumulative chain work per hash; the records side by side."""
    n = len(chainworks)
    out = np.empty((n, INDEX_SIZE), dtype=np.uint8)
    out[:, :32] = np.frombuffer(hashes, dtype=np.uint8).reshape(n, 32)
    works = b"".join(map(int.to_bytes, chainworks, repeat(_WORK_BYTES), _BIG))
    out[:, 32:] = np.frombuffer(works, dtype=np.uint8).reshape(n, _WORK_BYTES)
    return out.tobytes()


def unpack_index(raw: bytes | memoryview, at: int = 0) -> tuple[bytes, int]:
    block_hash = bytes(raw[at:at + 32])
    return block_hash, int.from_bytes(raw[at + 32:at + INDEX_SIZE], "big")


def pread_full(fd: int, size: int, offset: int) -> bytes:
    """Read up to ``size`` bytes at ``offset``; shorter only at end of file."""
    chunks: list[bytes] = []
    while size > 0:
        chunk = os.pread(fd, size, offset)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def pwrite_full(fd: int, data: bytes | memoryview, offset: int) -> None:
    """Write all of ``data`` at ``offset`` (raises ``OSError``)."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written
