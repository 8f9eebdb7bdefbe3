"""Hash-table inserts not yet written to ``hashidx.dat``, grouped by table region.

Why: an insert written straight to the table costs a pread and a pwrite, and it
dirties a random page of the file; the first write to a clean page costs the
filesystem journal work, and the next fsync writes the whole page out again for one
8-byte slot. The sync appends hundreds of thousands of headers a second, so that is
what bounded it. Instead an insert waits here, in the bucket of the table region its
home slot falls in (regions of 2**16 slots, 512 KiB), until the bucket holds
``due_at`` of them (one per 8 slots of the region); then the whole bucket is placed
with one pread and one pwrite of the region (:meth:`HashIndex.place`). A region takes
thousands of inserts at a time, so a page of the table is written once per dozens of
inserts instead of once per insert.

Lookups consult the buffer before the table. The buffer is not durable, and need not
be: :class:`~aureond.store.hashlookup.HashLookup` never lets the table's watermark
pass the lowest offset still buffered (:attr:`InsertBuffer.lowest`), so after a
crash every buffered entry lies above the watermark and is re-inserted from
``index.dat`` on open, like any unsynced tail.

Memory: 16 bytes per buffered entry (home, tag, value), about ``capacity / 8``
entries at most (one region placed per appended batch keeps the buckets near
``due_at``): 4 MiB for the 2**21 slots of a million headers.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["REGION_LOG2", "InsertBuffer", "keys_of"]

REGION_LOG2 = 16
"""Slots per region (log2): 512 KiB of table read and written per placement."""
_MIN_DUE = 64
_DUE_SHIFT = 3
"""A region is placed once it holds one insert per 2**_DUE_SHIFT of its slots."""
_DELETED = 0xFFFFFFFF

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]


def keys_of(blob: bytes, first: int, stride: int) -> tuple[U64, U32]:
    """(home keys, (tag, value) rows) of the records of ``blob``: each ``stride``
    bytes, hash first, offsets from ``first`` (value = offset + 1)."""
    n = len(blob) // stride
    records = np.frombuffer(blob, dtype=np.uint8, count=n * stride).reshape(n, stride)
    homes: U64 = records[:, 0:8].copy().view("<u8").ravel()
    rows: U32 = np.empty((n, 2), dtype=np.uint32)
    rows[:, 0] = records[:, 8:12].copy().view("<u4").ravel()
    rows[:, 1] = np.arange(first + 1, first + n + 1, dtype=np.uint32)
    return homes, rows


class InsertBuffer:
    """Buffered (home, tag, value) entries of a table of ``2**log2`` slots."""

    def __init__(self, log2: int) -> None:
        self.region_log2 = min(log2, REGION_LOG2)
        self.regions = 1 << (log2 - self.region_log2)
        self.due_at = max(_MIN_DUE, (1 << self.region_log2) >> _DUE_SHIFT)
        self._mask = np.uint64((1 << log2) - 1)
        self._shift = np.uint64(self.region_log2)
        self._homes: list[U64] = [np.empty(0, dtype=np.uint64)] * self.regions
        self._rows: list[U32] = [np.empty((0, 2), dtype=np.uint32)] * self.regions
        self._sizes = [0] * self.regions
        self.count = 0

    def adopt(self, old: InsertBuffer) -> None:
        """Reuse the (empty) arrays of ``old``, the buffer of the table this one's
        replaces, where the regions are the same size: a rebuild does not free and
        then grow them again."""
        if old.region_log2 == self.region_log2 and not old.count:
            for r in range(min(self.regions, old.regions)):
                self._homes[r], self._rows[r] = old._homes[r], old._rows[r]

    def region_of(self, home: int) -> int:
        return (home & int(self._mask)) >> self.region_log2

    # -- adding and taking -----------------------------------------------------------

    def add(self, homes: U64, rows: U32) -> None:
        """Buffer entries; ``rows`` are (tag, value), values increasing."""
        n = len(homes)
        if n == 0:
            return
        if self.regions == 1:
            self._append(0, homes, rows)
            return
        region = (homes & self._mask) >> self._shift
        # Stable (values stay in order per region); 8-bit keys sort by radix.
        order = np.argsort(region.astype(np.uint8) if self.regions <= 256 else region,
                           kind="stable")
        homes, rows = homes[order], rows[order]
        ends = np.cumsum(np.bincount(region.astype(np.intp),
                                     minlength=self.regions)).tolist()
        start = 0
        for r, end in enumerate(ends):
            if end > start:
                self._append(r, homes[start:end], rows[start:end])
                start = end

    def _append(self, r: int, homes: U64, rows: U32) -> None:
        size, n = self._sizes[r], len(homes)
        if size + n > len(self._homes[r]):
            capacity = max(self.due_at + self.due_at // 2, 2 * (size + n))
            grown_homes = np.empty(capacity, dtype=np.uint64)
            grown_rows = np.empty((capacity, 2), dtype=np.uint32)
            grown_homes[:size] = self._homes[r][:size]
            grown_rows[:size] = self._rows[r][:size]
            self._homes[r], self._rows[r] = grown_homes, grown_rows
        self._homes[r][size:size + n] = homes
        self._rows[r][size:size + n] = rows
        self._sizes[r] = size + n
        self.count += n

    def due(self, limit: int) -> list[int]:
        """Up to ``limit`` regions holding at least ``due_at`` entries, fullest first."""
        full = [(size, r) for r, size in enumerate(self._sizes) if size >= self.due_at]
        full.sort(reverse=True)
        return [r for _, r in full[:limit]]

    def nonempty(self) -> list[int]:
        return [r for r, size in enumerate(self._sizes) if size]

    def take(self, r: int) -> tuple[U64, U32]:
        """Remove and return region ``r``'s entries (copies)."""
        size = self._sizes[r]
        homes, rows = self._homes[r][:size].copy(), self._rows[r][:size].copy()
        self._sizes[r] = 0
        self.count -= size
        return homes, rows

    def clear(self) -> None:
        self._sizes = [0] * self.regions
        self.count = 0

    # -- reading -----------------------------------------------------------------------

    def values_of(self, home: int) -> list[int]:
        """Values (offset + 1) buffered under the 8-byte home key ``home``."""
        r = self.region_of(home)
        size = self._sizes[r]
        if not size:
            return []
        hits = np.flatnonzero(self._homes[r][:size] == np.uint64(home))
        return [v for v in self._rows[r][hits, 1].tolist() if v != _DELETED]

    @property
    def lowest(self) -> int | None:
        """The lowest buffered value (offset + 1), or None when empty. Values are
        appended in increasing order per region, so it is a region's first entry."""
        firsts = [int(self._rows[r][0, 1]) for r, size in enumerate(self._sizes) if size]
        return min(firsts) if firsts else None

    def drop_from(self, value: int) -> set[int]:
        """Forget entries with values >= ``value`` (a truncation); their values."""
        dropped: set[int] = set()
        for r, size in enumerate(self._sizes):
            if not size:
                continue
            rows = self._rows[r][:size]
            keep = rows[:, 1] < value
            kept = int(np.count_nonzero(keep))
            if kept == size:
                continue
            dropped.update(rows[~keep, 1].tolist())
            self._homes[r][:kept] = self._homes[r][:size][keep]
            self._rows[r][:kept] = rows[keep]
            self._sizes[r] = kept
            self.count -= size - kept
        return dropped
