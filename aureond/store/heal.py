"""Finding a torn tail on open, and the report of what was healed.

The check is O(tail): it looks at the last ``depth`` records only. Everything older was
fsynced before the tail was written (see :mod:`aureond.store.policy`), so a crash can
only have damaged the tail. Each tail record must hash to its index entry, link to the
record before it, and carry the cumulative work of the one before plus its own.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from aureond.chain.hashing import dsha256
from aureond.errors import EncodingError
from aureond.store.records import (
    HEADER_SIZE,
    HEADERS_FILE,
    INDEX_FILE,
    INDEX_SIZE,
    pread_full,
    pwrite_full,
    unpack_index,
)

__all__ = ["FileRepair", "HealReport", "TailVerdict", "check_tail", "repair_files"]


@dataclass(frozen=True, slots=True)
class HealReport:
    """What ``HeaderStore.open`` found and repaired.

    ``created``: the directory was new (or held only a torn creation) and was set up.
    ``headers_bytes``/``index_bytes``: file sizes before and after healing.
    ``dropped_headers``: whole header records removed from the tail.
    ``reasons``: one line per problem found, empty when the store was clean.
    ``hash_index_rebuilt``: the hash table was missing or damaged and was rebuilt;
    ``hash_index_replayed``: tail entries re-inserted above its durable watermark.
    """

    created: bool
    tip_height: int
    headers_bytes: tuple[int, int]
    index_bytes: tuple[int, int]
    dropped_headers: int
    reasons: tuple[str, ...]
    hash_index_rebuilt: bool
    hash_index_replayed: int

    @property
    def healed(self) -> bool:
        """True when anything on disk had to be repaired (not just created)."""
        return bool(self.reasons) or self.hash_index_rebuilt


@dataclass(frozen=True, slots=True)
class TailVerdict:
    """``consistent``: how many leading records are good; ``reason`` for the first bad."""

    consistent: int
    reason: str | None


def check_tail(headers_fd: int, index_fd: int, records: int, depth: int, base: int,
               work_of: Callable[[int], int]) -> TailVerdict:
    """Check records ``max(1, records - depth) .. records - 1`` against their index.

    ``records`` is the number present in both files; record 0 (the anchor) and the
    record before the checked window are trusted. ``base`` only labels heights.
    """
    if records <= 1:
        return TailVerdict(records, None)
    start = max(1, records - depth)
    span = records - start + 1
    header_blob = pread_full(headers_fd, span * HEADER_SIZE, (start - 1) * HEADER_SIZE)
    index_blob = pread_full(index_fd, span * INDEX_SIZE, (start - 1) * INDEX_SIZE)
    if len(header_blob) < span * HEADER_SIZE or len(index_blob) < span * INDEX_SIZE:
        return TailVerdict(start, "files shrank while being checked")
    prev_hash, prev_work = unpack_index(index_blob, 0)
    for k in range(1, span):
        offset = start - 1 + k
        height = base + offset
        record = header_blob[k * HEADER_SIZE:(k + 1) * HEADER_SIZE]
        block_hash, work = unpack_index(index_blob, k * INDEX_SIZE)
        if dsha256(record) != block_hash:
            return TailVerdict(offset, f"height {height}: index hash is not the header's hash")
        if record[4:36] != prev_hash:
            return TailVerdict(offset, f"height {height}: header does not link to height "
                                       f"{height - 1}")
        try:
            own = work_of(int.from_bytes(record[72:76], "little"))
        except EncodingError:
            return TailVerdict(offset, f"height {height}: bits do not decode")
        if work != prev_work + own:
            return TailVerdict(offset, f"height {height}: cumulative chain work is wrong")
        prev_hash, prev_work = block_hash, work
    return TailVerdict(records, None)


@dataclass(frozen=True, slots=True)
class FileRepair:
    """What :func:`repair_files` did to ``headers.dat`` and ``index.dat``."""

    records: int
    fresh: bool
    anchor_mismatch: bool
    headers_bytes: tuple[int, int]
    index_bytes: tuple[int, int]
    dropped: int
    dropped_hashes: list[tuple[bytes, int]]
    reasons: tuple[str, ...]


def repair_files(headers_fd: int, index_fd: int, anchor_raw: bytes, anchor_index: bytes,
                 depth: int, base: int, work_of: Callable[[int], int]) -> FileRepair:
    """Cut both files to the longest consistent prefix and fsync them.

    The shorter file wins, a partial record is no record, then :func:`check_tail`
    decides. An empty (or torn-at-creation) pair gets the anchor written. The hashes
    of dropped index records are returned so the hash table can forget them. When the
    first header is not the anchor nothing is touched (``anchor_mismatch``).
    """
    hsize = os.fstat(headers_fd).st_size
    isize = os.fstat(index_fd).st_size
    hrecords, irecords = hsize // HEADER_SIZE, isize // INDEX_SIZE
    if hrecords and pread_full(headers_fd, HEADER_SIZE, 0) != anchor_raw:
        return FileRepair(0, False, True, (hsize, hsize), (isize, isize), 0, [], ())
    reasons: list[str] = []
    if hsize % HEADER_SIZE:
        reasons.append(f"{HEADERS_FILE} ends in a partial record ({hsize % HEADER_SIZE} B)")
    if isize % INDEX_SIZE:
        reasons.append(f"{INDEX_FILE} ends in a partial record ({isize % INDEX_SIZE} B)")
    if hrecords != irecords:
        reasons.append(f"{HEADERS_FILE} holds {hrecords} records, {INDEX_FILE} "
                       f"{irecords}; the shorter wins")
    records = min(hrecords, irecords)
    fresh = hsize == 0 and isize == 0
    if records == 0:
        pwrite_full(headers_fd, anchor_raw, 0)
        pwrite_full(index_fd, anchor_index, 0)
        records = 1
    elif pread_full(index_fd, INDEX_SIZE, 0) != anchor_index:
        reasons.append("the anchor's index record was wrong and was rewritten")
        pwrite_full(index_fd, anchor_index, 0)
    verdict = check_tail(headers_fd, index_fd, records, depth, base, work_of)
    if verdict.reason is not None:
        reasons.append(verdict.reason)
    keep = verdict.consistent
    blob = pread_full(index_fd, max(0, irecords - keep) * INDEX_SIZE, keep * INDEX_SIZE)
    dropped_hashes = [(unpack_index(blob, k * INDEX_SIZE)[0], keep + k)
                      for k in range(len(blob) // INDEX_SIZE)]
    os.ftruncate(index_fd, keep * INDEX_SIZE)
    os.ftruncate(headers_fd, keep * HEADER_SIZE)
    os.fsync(headers_fd)
    os.fsync(index_fd)
    return FileRepair(keep, fresh, False, (hsize, keep * HEADER_SIZE),
                      (isize, keep * INDEX_SIZE), max(0, max(hrecords, irecords) - keep),
                      dropped_hashes, tuple(reasons))
