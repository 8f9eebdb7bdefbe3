"""The header store's hash -> height lookup, kept in step with ``index.dat``.

:class:`~aureond.store.headers.HeaderStore` owns the header files; this owns the life
of ``hashidx.dat`` beside them (the table itself is :mod:`~aureond.store.hashindex`):
opening it (forgetting records a heal dropped, re-inserting the tail above its
watermark), adding each appended batch (growing it, or rebuilding a table found full),
sizing it ahead of a long sync, cutting it for a truncation, and its watermark. Every
(re)build reads ``index.dat``, the source of truth, so a table can always be rebuilt.

``generation`` counts truncations and rebuilds: an fsync begun before either
(``SyncTicket``) claims nothing after it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from aureond.errors import StoreError
from aureond.store.hashindex import HASH_INDEX_FILE, HashIndex, HashIndexFullError, VerifyFn
from aureond.store.records import INDEX_FILE, INDEX_SIZE, pread_full

__all__ = ["HashLookup"]

_INDEX_RUN = 16_384
"""index.dat records per read (1 MiB)."""


class HashLookup:
    """``hashidx.dat`` next to the store's ``index.dat`` (an open descriptor)."""

    def __init__(self, directory: Path, index_fd: int) -> None:
        self._directory = directory
        self._path = directory / HASH_INDEX_FILE
        self._ifd = index_fd
        self._table: HashIndex | None = None
        self.generation = 0

    @property
    def _open_table(self) -> HashIndex:
        if self._table is None:
            raise StoreError("the header store is closed")
        return self._table

    def open(self, dropped: Sequence[tuple[bytes, int]], keep: int) -> tuple[bool, int]:
        """Open (or build) the table for ``keep`` records; ``dropped`` are (hash, offset)
        of records a heal cut. Returns (rebuilt, tail entries re-inserted)."""
        table = HashIndex.open(self._path)
        if table is None:
            self.rebuild(keep)
            return True, 0
        self._table = table
        table.lower_watermark(keep)
        for block_hash, offset in dropped:
            table.delete(block_hash, offset)
        replayed = 0
        try:
            for block_hash, offset in self._iter_index(table.covered, keep):
                table.insert(block_hash, offset)
                replayed += 1
        except HashIndexFullError:
            self.rebuild(keep)
            return True, replayed
        if table.needs_growth():
            self.rebuild(keep)
        else:
            table.sync(keep)
        return False, replayed

    def add(self, hashes: Sequence[bytes], offset: int, count: int) -> None:
        """Insert a batch appended at ``offset``; ``count`` records are now in
        ``index.dat`` (this batch included)."""
        table = self._open_table
        try:
            for k, block_hash in enumerate(hashes):
                table.insert(block_hash, offset + k)
        except HashIndexFullError:
            # Only reachable if the counts were wrong; the rebuild reads index.dat,
            # which already holds this batch, so nothing is lost.
            self.rebuild(count)
            return
        if table.needs_growth():
            self.rebuild(count)

    def reserve(self, records: int, count: int) -> bool:
        """Size the table for ``records`` now (one rebuild of the ``count`` stored)
        instead of doubling it on the way; True if it was rebuilt."""
        if not self._open_table.needs_capacity_for(records):
            return False
        self.rebuild(count, reserve=records)
        return True

    def rebuild(self, count: int, reserve: int = 0) -> None:
        """A fresh table from the first ``count`` records of ``index.dat``."""
        self.generation += 1
        if self._table is not None:
            self._table.close()
            self._table = None
        self._table = HashIndex.build_from_records(self._path, self._index_runs(0, count),
                                                   count, reserve=reserve)

    def cut(self, keep: int, count: int) -> None:
        """Before ``index.dat`` is cut from ``count`` to ``keep`` records: lower the
        watermark durably and forget the hashes of the records above ``keep``."""
        table = self._open_table
        self.generation += 1
        table.lower_watermark(keep)
        for block_hash, offset in self._iter_index(keep, count):
            table.delete(block_hash, offset)

    def lookup(self, block_hash: bytes, verify: VerifyFn) -> int | None:
        return self._open_table.lookup(block_hash, verify)

    def sync(self, covered: int) -> None:
        """Fsync the table and raise its watermark to ``covered``."""
        self._open_table.sync(covered)

    def mark_covered(self, covered: int, generation: int) -> bool:
        """Raise the watermark after an fsync done elsewhere, unless the table was cut
        or rebuilt since it began (``generation``)."""
        if self._table is None or generation != self.generation:
            return False
        self._table.mark_covered(covered)
        return True

    def fileno(self) -> int:
        return self._open_table.fileno()

    def close(self) -> None:
        if self._table is not None:
            self._table.close()
            self._table = None

    def _index_runs(self, start: int, stop: int) -> Iterator[tuple[bytes, int, int]]:
        """index.dat records [start, stop) as (blob, first offset, record size) runs."""
        for chunk_start in range(start, stop, _INDEX_RUN):
            n = min(stop, chunk_start + _INDEX_RUN) - chunk_start
            blob = pread_full(self._ifd, n * INDEX_SIZE, chunk_start * INDEX_SIZE)
            if len(blob) != n * INDEX_SIZE:
                raise StoreError(f"{self._directory}: {INDEX_FILE} is shorter than expected")
            yield blob, chunk_start, INDEX_SIZE

    def _iter_index(self, start: int, stop: int) -> Iterator[tuple[bytes, int]]:
        """(hash, offset) of index.dat records [start, stop)."""
        for blob, first, size in self._index_runs(start, stop):
            for k in range(len(blob) // size):
                yield blob[k * size:k * size + 32], first + k
