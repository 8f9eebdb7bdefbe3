"""Block hash -> height lookup kept on disk: an open-addressing table read with pread.

Why this and not something else: the lookup must not hold every hash in RAM (32 bytes
and a Python object per header would be ~150 MB at a million headers). sqlite3 from the
stdlib was measured on this machine at ~74k inserts/s (2,000-row transactions, WAL) and
~6 us per lookup; this table measured ~260k inserts/s, ~3.4 us per lookup and rebuilds a
million entries in ~0.15 s. Speed is not the main reason, though: sqlite would be a second
journal whose commits must be reconciled with the header files after a crash, while
here a stale or torn slot is harmless by construction (below) and recovery is one
watermark. Reads and writes go through pread/pwrite, so the table costs page cache,
not process RSS.

File ``hashidx.dat``::

    header (64 B): magic "AURHIDX1" | u32 capacity_log2 | u32 live | u32 tombstones
                   | u64 covered | 32 zero bytes | u32 crc32 of the 60 bytes before
    slots (8 B each, capacity = 2**capacity_log2):
                   u32 tag | u32 value (0 = empty, 0xFFFFFFFF = deleted, else offset+1)

A hash's home slot is its first 8 bytes (wire order, the bytes proof of work leaves
random) masked to the capacity; linear probing; ``tag`` is bytes 8..12, which filters
almost every non-matching candidate. A candidate is *always* confirmed against the
per-height index before it is believed (``verify`` callback), so a stale slot (left by
a crash, a torn write, or a height the chain no longer has) can only cost a probe, never
produce a wrong answer. Offsets are ``height - anchor_height``.

``covered`` is the recovery watermark: every offset below it that the chain still has
is durably in the table. It is raised only after the slots are fsynced, and lowered
durably before a truncation, so on open the store re-inserts offsets ``covered..tip``
(the unsynced tail, O(tail)). A missing or damaged table is rebuilt from the index.

Batches: the store does not insert header by header. Its inserts wait in memory per
region of the table (:mod:`~aureond.store.hashbuffer`) and :meth:`HashIndex.place`
writes a region's worth with one pread and one pwrite; the store's lookup layer
(:mod:`~aureond.store.hashlookup`) keeps ``covered`` below every insert still waiting,
so the recovery above is unchanged: what a crash loses from memory lies above the
watermark and is re-inserted on open. A placement only ever turns empty slots into
occupied ones, so a torn region write leaves some of its entries missing (above the
watermark: replayed) and never breaks a probe chain.

The ``live`` and ``deleted`` counts in the header are only as fresh as the last sync:
slots written after it may or may not have reached the disk before a crash. So they
are not trusted on open; :meth:`open` counts the slots instead (one sequential read of
the table, ~10 ms per million slots), and occupied slots the chain no longer has count
as live until the next rebuild drops them. The load factor therefore never
under-reports, and a table that is somehow full raises :class:`HashIndexFullError`, which
the store answers with a rebuild.

Growth: when live + deleted slots pass half the capacity, the table is rebuilt at twice
the size into a temporary file (mmap'd only while it is built), fsynced and renamed
over the old one; a crash during a rebuild leaves the old table in place.

Not thread-safe; all calls are synchronous file I/O.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from aureond.errors import StoreError
from aureond.store.atomic import fsync_dir
from aureond.store.placement import fill_sorted
from aureond.store.records import pwrite_full

__all__ = ["HASH_INDEX_FILE", "HashIndex", "HashIndexFullError", "VerifyFn"]

HASH_INDEX_FILE = "hashidx.dat"
_MAGIC = b"AURHIDX1"
_HEADER = struct.Struct("<8sIIIQ32s")
_HEADER_SIZE = 64
_CRC = struct.Struct("<I")
_SLOT = struct.Struct("<II")
_SLOT_SIZE = 8
_EMPTY = 0
_DELETED = 0xFFFFFFFF
_MIN_LOG2 = 12
_MAX_OFFSET = 0xFFFFFFFD
_RUN = 8
_COUNT_CHUNK_SLOTS = 1 << 20
_BUILD_CHUNK = 1 << 16
_SPILL = 512
"""Slots read past a batch's last home slot, for probes that run on (4 KiB)."""

VerifyFn = Callable[[int], bytes | None]
"""offset -> the block hash stored at that offset, or None past the tip."""


class HashIndexFullError(StoreError):
    """No free slot was found: the counts were wrong. Rebuild the table."""


def _home(block_hash: bytes) -> tuple[int, int]:
    return int.from_bytes(block_hash[:8], "little"), int.from_bytes(block_hash[8:12], "little")


def _log2_for(entries: int) -> int:
    """The table size (log2) a fresh build gives ``entries`` entries: under half full."""
    log2 = _MIN_LOG2
    while (1 << log2) < 2 * entries + 2:
        log2 += 1
    return log2


def _place(slots: Any, blob: bytes, first: int, stride: int, mask: int) -> int:
    """Insert the records of ``blob`` (hash first, ``stride`` bytes each, offsets from
    ``first``) into ``slots`` (an (capacity, 2) uint32 array: tag, value) by linear
    probing, all records at once: each round, every record whose current slot is free
    takes it (the first of several wanting the same slot wins) and the others move one
    slot on. A record only ever passes occupied slots, so lookups find it. Returns how
    many were placed."""
    n = len(blob) // stride
    if n == 0:
        return 0
    if first + n - 1 > _MAX_OFFSET:
        raise StoreError(f"offset {first + n - 1} does not fit the hash index")
    records = np.frombuffer(blob, dtype=np.uint8, count=n * stride).reshape(n, stride)
    homes = records[:, 0:8].copy().view("<u8").ravel()
    tags = records[:, 8:12].copy().view("<u4").ravel()
    values = np.arange(first + 1, first + n + 1, dtype=np.uint32)
    pending = np.arange(n)
    pos = (homes & np.uint64(mask)).astype(np.int64)
    for _ in range(mask + 1):
        free = slots[pos, 1] == _EMPTY
        candidates, at = pending[free], pos[free]
        _, firsts = np.unique(at, return_index=True)
        winners, where = candidates[firsts], at[firsts]
        slots[where, 0] = tags[winners]
        slots[where, 1] = values[winners]
        keep = np.ones(len(pending), dtype=bool)
        keep[np.flatnonzero(free)[firsts]] = False
        pending, pos = pending[keep], (pos[keep] + 1) & mask
        if len(pending) == 0:
            return n
    raise HashIndexFullError("no free slot while building the hash index")


class HashIndex:
    """The on-disk hash table. Open with :meth:`open`; close with :meth:`close`."""

    def __init__(self, path: Path, fd: int, log2: int, live: int, deleted: int,
                 covered: int) -> None:
        self._path = path
        self._fd = fd
        self._log2 = log2
        self._mask = (1 << log2) - 1
        self.live = live
        self.deleted = deleted
        self.covered = covered
        self._dirty = False
        self.scratch: Any = np.empty((0, 2), dtype="<u4")
        """Reused by :meth:`place` for the slots it reads."""

    # -- opening and rebuilding ------------------------------------------------------

    @classmethod
    def open(cls, path: Path) -> HashIndex | None:
        """Open an existing table; None when it is missing or damaged (rebuild it)."""
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + ".new").unlink()
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot open {path}: {exc}") from exc
        try:
            raw = os.pread(fd, _HEADER_SIZE, 0)
            size = os.fstat(fd).st_size
        except OSError as exc:
            os.close(fd)
            raise StoreError(f"cannot read {path}: {exc}") from exc
        parsed = cls._parse_header(raw)
        if parsed is None or size != _HEADER_SIZE + (_SLOT_SIZE << parsed[0]):
            os.close(fd)
            return None
        log2, _live, _deleted, covered = parsed
        try:
            live, deleted = cls._count_slots(fd, log2)
        except OSError as exc:
            os.close(fd)
            raise StoreError(f"cannot read {path}: {exc}") from exc
        if live is None:
            os.close(fd)
            return None
        return cls(path, fd, log2, live, deleted, covered)

    @staticmethod
    def _count_slots(fd: int, log2: int) -> tuple[int | None, int]:
        """(occupied, deleted) slots as they are on disk; (None, 0) if the file is
        shorter than its header says."""
        occupied = deleted = 0
        total = 1 << log2
        for start in range(0, total, _COUNT_CHUNK_SLOTS):
            run = min(_COUNT_CHUNK_SLOTS, total - start)
            raw = os.pread(fd, run * _SLOT_SIZE, _HEADER_SIZE + start * _SLOT_SIZE)
            if len(raw) != run * _SLOT_SIZE:
                return None, 0
            values = np.frombuffer(raw, dtype="<u4")[1::2]
            empty = int(np.count_nonzero(values == _EMPTY))
            gone = int(np.count_nonzero(values == _DELETED))
            occupied += run - empty - gone
            deleted += gone
        return occupied, deleted

    @staticmethod
    def _parse_header(raw: bytes) -> tuple[int, int, int, int] | None:
        if len(raw) != _HEADER_SIZE:
            return None
        (crc,) = _CRC.unpack_from(raw, 60)
        if zlib.crc32(raw[:60]) != crc:
            return None
        magic, log2, live, deleted, covered, _ = _HEADER.unpack_from(raw)
        if magic != _MAGIC or not _MIN_LOG2 <= log2 <= 32:
            return None
        return log2, live, deleted, covered

    @staticmethod
    def _pack_header(log2: int, live: int, deleted: int, covered: int) -> bytes:
        body = _HEADER.pack(_MAGIC, log2, live, deleted, covered, b"")
        return body + _CRC.pack(zlib.crc32(body))

    @classmethod
    def build(cls, path: Path, entries: Iterable[tuple[bytes, int]], count: int) -> HashIndex:
        """Write a fresh table holding ``entries`` (hash, offset), ``count`` of them."""
        def chunks() -> Iterator[tuple[bytes, int, int]]:
            batch: list[tuple[bytes, int]] = []
            for entry in entries:
                batch.append(entry)
                if len(batch) == _BUILD_CHUNK:
                    yield from cls._as_runs(batch)
                    batch = []
            yield from cls._as_runs(batch)
        return cls.build_from_records(path, chunks(), count)

    @staticmethod
    def _as_runs(batch: list[tuple[bytes, int]]) -> Iterator[tuple[bytes, int, int]]:
        """(hash, offset) pairs as runs of consecutive offsets: (hashes, first, 32)."""
        i = 0
        while i < len(batch):
            j = i + 1
            while j < len(batch) and batch[j][1] == batch[j - 1][1] + 1:
                j += 1
            yield b"".join(h for h, _ in batch[i:j]), batch[i][1], 32
            i = j

    @classmethod
    def build_from_records(cls, path: Path, runs: Iterable[tuple[bytes, int, int]],
                           count: int, *, reserve: int = 0) -> HashIndex:
        """Write a fresh table from ``runs`` of records: (blob, first offset, record
        size), each record starting with its 32-byte hash (the store passes
        ``index.dat`` as read), ``count`` records in all.

        Built in ``<name>.new`` through a temporary mmap, fsynced, then renamed over
        ``path``: a crash leaves either the old table or the new one. Placement is
        vectorized (numpy): a million entries take about a tenth of a second, so a
        growth step does not stall the node. ``reserve``: size the table for that many
        entries (if more than ``count``), so it need not grow while they arrive.
        """
        log2 = _log2_for(max(count, reserve))
        tmp = path.with_name(path.name + ".new")
        size = _HEADER_SIZE + (_SLOT_SIZE << log2)
        live = 0
        try:
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.ftruncate(fd, size)
                with mmap.mmap(fd, size) as table:
                    slots = np.frombuffer(table, dtype="<u4", offset=_HEADER_SIZE)
                    slots = slots.reshape(-1, 2)
                    for blob, first, stride in runs:
                        live += _place(slots, blob, first, stride, (1 << log2) - 1)
                    del slots
                    table[:_HEADER_SIZE] = cls._pack_header(log2, live, 0, count)
                    table.flush()
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            fsync_dir(path.parent)
            fd = os.open(path, os.O_RDWR)
        except OSError as exc:
            raise StoreError(f"cannot build {path}: {exc}") from exc
        return cls(path, fd, log2, live, 0, count)

    # -- lookups and updates ---------------------------------------------------------

    @property
    def log2(self) -> int:
        return self._log2

    @property
    def capacity(self) -> int:
        return 1 << self._log2

    def _probe(self, block_hash: bytes) -> Iterator[tuple[int, int, int]]:
        """(slot, tag, value) along the probe sequence, read _RUN slots per pread;
        at most one full lap of the table."""
        home, _ = _home(block_hash)
        slot = home & self._mask
        remaining = self.capacity
        while remaining > 0:
            run = min(_RUN, self.capacity - slot, remaining)
            raw = os.pread(self._fd, run * _SLOT_SIZE, _HEADER_SIZE + slot * _SLOT_SIZE)
            if len(raw) != run * _SLOT_SIZE:
                raise StoreError(f"{self._path} is shorter than its header says")
            for k, (tag, value) in enumerate(_SLOT.iter_unpack(raw)):
                yield slot + k, tag, value
            remaining -= run
            slot = (slot + run) & self._mask

    def lookup(self, block_hash: bytes, verify: VerifyFn) -> int | None:
        """The offset holding ``block_hash``, confirmed through ``verify``; else None."""
        _, tag = _home(block_hash)
        for _slot, stag, value in self._probe(block_hash):
            if value == _EMPTY:
                return None
            if value != _DELETED and stag == tag and verify(value - 1) == block_hash:
                return value - 1
        return None

    def insert(self, block_hash: bytes, offset: int) -> None:
        """Map ``block_hash`` to ``offset``; inserting an existing pair is a no-op.

        The caller checks :meth:`needs_growth` after a batch and rebuilds. Batches go
        through :meth:`place` instead (the store buffers them, see
        :mod:`~aureond.store.hashbuffer`)."""
        if not 0 <= offset <= _MAX_OFFSET:
            raise StoreError(f"offset {offset} does not fit the hash index")
        home, tag = _home(block_hash)
        self._insert_key(home, tag, offset + 1)

    def _insert_key(self, home: int, tag: int, wanted: int) -> None:
        """Insert (tag, value ``wanted``) at the first free slot from ``home``, reusing
        a deleted slot; nothing if the pair is there. One pread of ``_RUN`` slots
        usually settles it."""
        mask, capacity, fd = self._mask, 1 << self._log2, self._fd
        slot = home & mask
        remaining = capacity
        target = -1
        reuses_deleted = False
        while remaining > 0:
            run = min(_RUN, capacity - slot, remaining)
            raw = os.pread(fd, run * _SLOT_SIZE, _HEADER_SIZE + slot * _SLOT_SIZE)
            if len(raw) != run * _SLOT_SIZE:
                raise StoreError(f"{self._path} is shorter than its header says")
            done = False
            for k, (stag, value) in enumerate(_SLOT.iter_unpack(raw)):
                if value == _EMPTY:
                    if target < 0:
                        target = slot + k
                    done = True
                    break
                if value == _DELETED:
                    if target < 0:
                        target, reuses_deleted = slot + k, True
                elif value == wanted and stag == tag:
                    return
            if done:
                break
            remaining -= run
            slot = (slot + run) & mask
        if target < 0:
            raise HashIndexFullError(f"{self._path} has no free slot")
        os.pwrite(fd, _SLOT.pack(tag, wanted), _HEADER_SIZE + target * _SLOT_SIZE)
        self._dirty = True
        self.live += 1
        if reuses_deleted:
            self.deleted -= 1

    def place(self, homes: Any, rows: Any, *, known: bool = False) -> int:
        """Insert many entries at once: ``homes`` (uint64 home keys) and ``rows``
        ((tag, value) uint32 pairs), all with home slots close together (one region
        of an :class:`~aureond.store.hashbuffer.InsertBuffer`). Returns how many were
        added. ``known``: some pairs may be in the table already (a replay after a
        crash); those are found and skipped, as :meth:`insert` would. Without it a
        pair present twice costs a slot, nothing else (the lookup takes the first;
        stale slots are harmless).

        One pread covers their home slots plus ``_SPILL`` slots past the last, they
        are placed in memory (:func:`~aureond.store.placement.fill_sorted`), one
        pwrite writes the changed slots back; the few entries whose probe runs past
        the slots read go through :meth:`insert`. Only empty slots are filled, so the
        table stays a valid linear-probing table at every byte a crash may tear."""
        if len(homes) == 0:
            return 0
        capacity = 1 << self._log2
        slots_at = (homes & np.uint64(self._mask)).astype(np.int64)
        lo = int(slots_at.min())
        pos = slots_at - lo
        # Home order; a region's offsets fit 16 bits, which numpy sorts by radix.
        order = (np.argsort(pos.astype(np.uint16), kind="stable")
                 if int(pos.max()) <= 0xFFFF else np.argsort(pos))
        pos, rows = pos[order], rows[order]
        hi = min(capacity, lo + int(pos[-1]) + 1 + _SPILL)
        at = _HEADER_SIZE + lo * _SLOT_SIZE
        slots = self._read_slots(at, hi - lo)
        done = fill_sorted(slots, pos, rows, known=known)
        if done.placed:
            pwrite_full(self._fd, memoryview(slots[done.start:done.stop]).cast("B"),
                        at + done.start * _SLOT_SIZE)
            self._dirty = True
            self.live += done.placed
        added = done.placed
        for i in done.left.tolist():
            tag, value = rows[i].tolist()
            before = self.live
            self._insert_key(int(homes[order[i]]), tag, value)
            added += self.live - before
        return added

    def _read_slots(self, at: int, count: int) -> Any:
        """``count`` slots from byte ``at`` into a reused scratch array (no fresh
        half-megabyte allocation, and its page faults, per placement)."""
        if len(self.scratch) < count:
            self.scratch = np.empty((count, 2), dtype="<u4")
        slots = self.scratch[:count]
        got = os.preadv(self._fd, [memoryview(slots).cast("B")], at)
        if got != count * _SLOT_SIZE:
            raise StoreError(f"{self._path} is shorter than its header says")
        return slots

    def delete(self, block_hash: bytes, offset: int) -> None:
        """Forget the pair (``block_hash``, ``offset``) if present."""
        _, tag = _home(block_hash)
        for slot, stag, value in self._probe(block_hash):
            if value == _EMPTY:
                return
            if stag == tag and value == offset + 1:
                os.pwrite(self._fd, _SLOT.pack(0, _DELETED),
                          _HEADER_SIZE + slot * _SLOT_SIZE)
                self._dirty = True
                self.live -= 1
                self.deleted += 1
                return

    def needs_capacity_for(self, entries: int) -> bool:
        """Whether holding ``entries`` would take a bigger table than this one."""
        return _log2_for(entries) > self._log2

    def needs_growth(self) -> bool:
        return 2 * (self.live + self.deleted) > self.capacity

    # -- durability ------------------------------------------------------------------

    def _write_header(self) -> None:
        header = self._pack_header(self._log2, max(self.live, 0), max(self.deleted, 0),
                                   self.covered)
        os.pwrite(self._fd, header, 0)

    def sync(self, covered: int) -> None:
        """Fsync the slots, then durably raise the watermark to ``covered``."""
        if not self._dirty and covered == self.covered:
            return
        try:
            if self._dirty:
                os.fsync(self._fd)
                self._dirty = False
            self.covered = covered
            self._write_header()
            os.fsync(self._fd)
        except OSError as exc:
            raise StoreError(f"cannot sync {self._path}: {exc}") from exc

    def fileno(self) -> int:
        return self._fd

    def mark_covered(self, covered: int) -> None:
        """Raise the watermark after the slots below ``covered`` were fsynced elsewhere
        (a ``SyncTicket``). The header is written but not fsynced: on disk it can
        only lag, and a lagging watermark costs a longer replay, never a lost entry."""
        if covered <= self.covered:
            return
        self.covered = covered
        self._write_header()

    def lower_watermark(self, covered: int) -> None:
        """Durably lower the watermark before the chain is cut below it."""
        if covered >= self.covered:
            return
        self.covered = covered
        try:
            self._write_header()
            os.fsync(self._fd)
        except OSError as exc:
            raise StoreError(f"cannot sync {self._path}: {exc}") from exc

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
