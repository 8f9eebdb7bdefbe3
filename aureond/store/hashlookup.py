"""The header store's hash -> height lookup, kept in step with ``index.dat``.

:class:`~aureond.store.headers.HeaderStore` owns the header files; this owns the life
of ``hashidx.dat`` beside them (the table itself is :mod:`~aureond.store.hashindex`,
the inserts waiting for it :mod:`~aureond.store.hashbuffer`): opening it (forgetting
records a heal dropped, re-inserting the tail above its watermark), adding each
appended batch (buffered, placed a region at a time; growing the table, or rebuilding
one found full), sizing it ahead of a long sync, cutting it for a truncation, and its
watermark. Every (re)build reads ``index.dat``, the source of truth, so a table can
always be rebuilt.

The watermark never passes the lowest buffered offset (:meth:`HashLookup.frontier`):
a sync raises it only as far as the table itself holds every record, so the buffer
needs no durability of its own. A complete sync (:meth:`HashLookup.sync` with
``complete``, what ``HeaderStore.flush`` and ``close`` do) places the whole buffer
first; the automatic flushes and off-thread syncs of a busy store do not, and leave
the watermark at most about one buffer (``capacity / 16`` records) behind the tip,
which an open after a crash re-inserts.

``generation`` counts truncations and rebuilds: an fsync begun before either
(``SyncTicket``) claims nothing after it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from aureond.errors import StoreError
from aureond.store.hashbuffer import InsertBuffer, keys_of
from aureond.store.hashindex import HASH_INDEX_FILE, HashIndex, HashIndexFullError, VerifyFn
from aureond.store.records import INDEX_FILE, INDEX_SIZE, pread_full

__all__ = ["HashLookup"]

_INDEX_RUN = 16_384
"""index.dat records per read (1 MiB)."""
_REGIONS_PER_ADD = 1
"""Buffered regions placed per appended batch (each ~1 ms: bounds an append's pause)."""


class HashLookup:
    """``hashidx.dat`` next to the store's ``index.dat`` (an open descriptor)."""

    def __init__(self, directory: Path, index_fd: int) -> None:
        self._directory = directory
        self._path = directory / HASH_INDEX_FILE
        self._ifd = index_fd
        self._table: HashIndex | None = None
        self._buffer = InsertBuffer(12)
        self.generation = 0

    @property
    def _open_table(self) -> HashIndex:
        if self._table is None:
            raise StoreError("the header store is closed")
        return self._table

    def _use(self, table: HashIndex, scratch: object = None) -> None:
        self._table = table
        old, self._buffer = self._buffer, InsertBuffer(table.log2)
        self._buffer.adopt(old)
        if scratch is not None:
            table.scratch = scratch  # the same half megabyte, not a fresh one per rebuild

    @property
    def buffered(self) -> int:
        """Inserts waiting in memory for their region of the table."""
        return self._buffer.count

    def open(self, dropped: Sequence[tuple[bytes, int]], keep: int) -> tuple[bool, int]:
        """Open (or build) the table for ``keep`` records; ``dropped`` are (hash, offset)
        of records a heal cut. Returns (rebuilt, tail entries re-inserted)."""
        table = HashIndex.open(self._path)
        if table is None:
            self.rebuild(keep)
            return True, 0
        self._use(table)
        table.lower_watermark(keep)
        for block_hash, offset in dropped:
            table.delete(block_hash, offset)
        replayed = max(0, keep - table.covered)
        for blob, first, size in self._index_runs(table.covered, keep):
            self._buffer.add(*keys_of(blob, first, size))
        if self._grow_if_needed(keep):
            return True, replayed
        try:
            # Some of the tail may have reached the table before the crash: placed as
            # known, those pairs are found and not added twice.
            self._place(self._buffer.nonempty(), known=True)
        except HashIndexFullError:
            self.rebuild(keep)
            return True, replayed
        if table.needs_growth():
            self.rebuild(keep)
        else:
            table.sync(keep)
        return False, replayed

    def add(self, records: bytes, offset: int, count: int) -> None:
        """Insert a batch appended at ``offset``: ``records`` as written to
        ``index.dat`` (hash first); ``count`` records are now in ``index.dat``
        (this batch included). Buffered, then due regions are placed."""
        table = self._open_table
        self._buffer.add(*keys_of(records, offset, INDEX_SIZE))
        if self._grow_if_needed(count):
            return
        buffer = self._buffer
        # One region per batch bounds the pause; a buffer grown past twice its
        # steady size (huge batches) catches up at once.
        limit = (_REGIONS_PER_ADD if buffer.count <= 2 * buffer.regions * buffer.due_at
                 else buffer.regions)
        try:
            self._place(buffer.due(limit))
        except HashIndexFullError:
            # Only reachable if the counts were wrong; the rebuild reads index.dat,
            # which already holds this batch, so nothing is lost.
            self.rebuild(count)
            return
        if table.needs_growth():
            self.rebuild(count)

    def _grow_if_needed(self, count: int) -> bool:
        """Rebuild bigger when the table plus the buffer pass half its slots."""
        table = self._open_table
        if 2 * (table.live + table.deleted + self._buffer.count) <= table.capacity:
            return False
        self.rebuild(count)
        return True

    def _place(self, regions: list[int], *, known: bool = False) -> None:
        table = self._open_table
        for r in regions:
            table.place(*self._buffer.take(r), known=known)

    def frontier(self, count: int) -> int:
        """How many of the first ``count`` records the table holds itself: the most a
        sync may raise the watermark to."""
        lowest = self._buffer.lowest
        return count if lowest is None else min(count, lowest - 1)

    def settle(self, count: int, *, complete: bool = False) -> None:
        """Before a sync: place the whole buffer if ``complete``, or if the table is
        one region (up to 2**16 slots: stores of up to ~32,000 headers), where that
        costs one pread and one pwrite. ``count``: records in ``index.dat``."""
        if not self._buffer.count or not (complete or self._buffer.regions == 1):
            return
        try:
            self._place(self._buffer.nonempty())
        except HashIndexFullError:
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
        self._buffer.clear()
        scratch = None
        if self._table is not None:
            scratch = self._table.scratch
            self._table.close()
            self._table = None
        self._use(HashIndex.build_from_records(self._path, self._index_runs(0, count),
                                               count, reserve=reserve), scratch)

    def cut(self, keep: int, count: int) -> None:
        """Before ``index.dat`` is cut from ``count`` to ``keep`` records: lower the
        watermark durably and forget the hashes of the records above ``keep``."""
        table = self._open_table
        self.generation += 1
        table.lower_watermark(keep)
        buffered = self._buffer.drop_from(keep + 1)
        for block_hash, offset in self._iter_index(keep, count):
            if offset + 1 not in buffered:
                table.delete(block_hash, offset)

    def lookup(self, block_hash: bytes, verify: VerifyFn) -> int | None:
        for value in self._buffer.values_of(int.from_bytes(block_hash[:8], "little")):
            if verify(value - 1) == block_hash:
                return value - 1
        return self._open_table.lookup(block_hash, verify)

    def sync(self, covered: int, *, complete: bool = False) -> None:
        """Settle (see :meth:`settle`), fsync the table and raise its watermark to
        ``covered`` records, or as far as the table holds every record."""
        self.settle(covered, complete=complete)
        self._open_table.sync(self.frontier(covered))

    def mark_covered(self, covered: int, generation: int) -> bool:
        """Raise the watermark after an fsync done elsewhere, unless the table was cut
        or rebuilt since it began (``generation``). ``covered`` must be what
        :meth:`frontier` said when the fsync began."""
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
        self._buffer.clear()

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
