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

from aureond.chain.header import HEADER_SIZE

__all__ = ["HEADERS_FILE", "HEADER_SIZE", "INDEX_FILE", "INDEX_SIZE", "pack_index",
           "pread_full", "pwrite_full", "unpack_index"]

HEADERS_FILE = "headers.dat"
INDEX_FILE = "index.dat"
INDEX_SIZE = 64
_WORK_BYTES = 32


def pack_index(block_hash: bytes, chainwork: int) -> bytes:
    return block_hash + chainwork.to_bytes(_WORK_BYTES, "big")


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


def pwrite_full(fd: int, data: bytes, offset: int) -> None:
    """Write all of ``data`` at ``offset`` (raises ``OSError``)."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written
