"""The header store: a chain of validated headers on disk, from an anchor to the tip.

Files in the data directory (see :mod:`~aureond.store.records`,
:mod:`~aureond.store.hashindex` and :mod:`~aureond.store.hashlookup`,
:mod:`~aureond.store.meta`)::

    meta.json     network, anchor, format (written atomically, before anything else)
    headers.dat   80-byte headers, record i = height anchor + i
    index.dat     64-byte (hash, cumulative chain work) per height
    hashidx.dat   on-disk hash -> height table, with a durable watermark
    LOCK          flock'd while a process has the store open

Write order and the recovery invariant
--------------------------------------
``append`` writes ``headers.dat``, then ``index.dat``, then the hash table (its inserts
wait in memory until their region of the table is written, see
:mod:`~aureond.store.hashbuffer`); ``flush`` fsyncs them in that order and only then
raises the hash table's watermark, never past an insert still waiting. Truncation
goes the other way: lower the watermark (durably), forget the hashes, cut
``index.dat``, cut ``headers.dat``, fsync. So at any crash point:

* the valid chain is the longest prefix present in *both* files (the shorter wins; a
  partial record is no record) whose tail records hash to their index entries, link to
  their predecessor and carry the right cumulative work;
* the hash table holds every height below its watermark; heights from the watermark
  to the tip are re-inserted on open, and any stale slot is harmless because every hit
  is confirmed against ``index.dat``.

``open`` checks only the last ``tail_check`` records (at least twice the fsync batch),
truncates every file to the last consistent height, re-inserts the table's tail,
and records what it did in :attr:`HeaderStore.heal_report`. It never needs a manual
delete; it refuses (``StoreError``) only a directory of another network, anchor or
format, or one whose first record is not the anchor.

The store checks structure, not consensus: the caller appends only validated headers.
All methods are synchronous file I/O and the store is not thread-safe. Callers on an
event loop run ``open`` in a worker thread, keep ``append`` batches small, and fsync
through :meth:`HeaderStore.begin_sync` / :meth:`HeaderStore.finish_sync`, whose
``SyncTicket.fsync`` may run in a worker thread while appends go on.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from aureond.chain.header import BlockHeader
from aureond.chain.locator import locator_heights
from aureond.chain.target import work_from_bits
from aureond.clock import Clock
from aureond.errors import StoreError
from aureond.store.cache import HeaderLRU, RecentWindow
from aureond.store.directory import claim_directory
from aureond.store.hashindex import HASH_INDEX_FILE
from aureond.store.hashlookup import HashLookup
from aureond.store.heal import HealReport, repair_files
from aureond.store.meta import StoreMeta
from aureond.store.policy import FsyncPolicy
from aureond.store.records import (
    HEADER_SIZE,
    HEADERS_FILE,
    INDEX_FILE,
    INDEX_SIZE,
    index_blob,
    pack_index,
    pread_full,
    pwrite_full,
    unpack_index,
)
from aureond.store.runs import check_run, cumulative_works, join_records
from aureond.store.syncticket import SyncTicket

__all__ = ["DEFAULT_TAIL_CHECK", "DEFAULT_WINDOW", "HeaderStore", "RETARGET_PERIOD"]

RETARGET_PERIOD = 2016
DEFAULT_WINDOW = RETARGET_PERIOD + 1024
"""One retarget period plus a reorg margin."""
DEFAULT_TAIL_CHECK = 4096
DEFAULT_LRU = 1024
_READ_CHUNK = 2000


class HeaderStore:
    """Headers from an anchor to the tip, on disk. Create with :meth:`open`."""

    def __init__(self, directory: Path, meta: StoreMeta, anchor: BlockHeader,
                 policy: FsyncPolicy, clock: Clock | None, window: int, lru: int,
                 tail_check: int) -> None:
        self.directory = directory
        self.meta = meta
        self._anchor = anchor
        self._policy = policy
        self._clock = clock
        self._tail_check = tail_check
        self._window = RecentWindow(window)
        self._lru = HeaderLRU(lru)
        self._work_cache: dict[int, int] = {}
        self._lock_fd = -1
        self._hfd = -1
        self._ifd = -1
        self._lookup: HashLookup | None = None
        self._count = 0
        self._tip_hash = anchor.hash
        self._tip_work = meta.anchor_chainwork
        self._pending = 0
        self._last_sync = clock.monotonic() if clock is not None else 0.0
        self.heal_report = HealReport(False, meta.anchor_height, (0, 0), (0, 0), 0, (), False, 0)

    # -- opening -----------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str, *, network_id: str, genesis_or_anchor: BlockHeader,
             anchor_height: int, anchor_chainwork: int,
             fsync_policy: FsyncPolicy | None = None, clock: Clock | None = None,
             window: int = DEFAULT_WINDOW, lru: int = DEFAULT_LRU,
             tail_check: int = DEFAULT_TAIL_CHECK) -> HeaderStore:
        """Open (creating if needed) the store in ``path`` and heal a torn tail.

        ``anchor_chainwork`` is the cumulative work *including* the anchor header.
        ``clock`` is required when the policy flushes on time; without a policy the
        default is ``FsyncPolicy()`` with a clock, count-only without. The result's
        :attr:`heal_report` says what was repaired.
        """
        if fsync_policy is not None:
            policy = fsync_policy
        else:
            policy = FsyncPolicy() if clock is not None else FsyncPolicy(every_seconds=None)
        if policy.every_seconds is not None and clock is None:
            raise ValueError("an FsyncPolicy with every_seconds needs a clock")
        if anchor_height < 0 or anchor_chainwork <= 0:
            raise ValueError("anchor_height must be >= 0 and anchor_chainwork > 0")
        if tail_check < 1:
            raise ValueError("tail_check must be >= 1")
        directory = Path(path)
        wanted = StoreMeta(network_id, anchor_height, genesis_or_anchor.hash, anchor_chainwork)
        depth = max(tail_check, 2 * (policy.every_n_headers or 0))
        store = cls(directory, wanted, genesis_or_anchor, policy, clock, window, lru, depth)
        try:
            store._open_files()
        except BaseException:
            store._close_fds()
            raise
        return store

    def _open_files(self) -> None:
        directory = self.directory
        self._lock_fd, created = claim_directory(directory, self.meta)
        try:
            self._hfd = os.open(directory / HEADERS_FILE, os.O_RDWR | os.O_CREAT, 0o644)
            self._ifd = os.open(directory / INDEX_FILE, os.O_RDWR | os.O_CREAT, 0o644)
            self._lookup = HashLookup(directory, self._ifd)
            self._heal(created)
        except OSError as exc:
            raise StoreError(f"cannot open the header store in {directory}: {exc}") from exc

    def _heal(self, created: bool) -> None:
        repair = repair_files(
            self._hfd, self._ifd, self._anchor.serialize(),
            pack_index(self._anchor.hash, self.meta.anchor_chainwork),
            self._tail_check, self.meta.anchor_height, self._work_of)
        if repair.anchor_mismatch:
            raise StoreError(f"{self.directory / HEADERS_FILE} does not start with the anchor "
                             "header; the files were replaced or damaged: use a fresh "
                             "--data-dir")
        self._count = repair.records
        assert self._lookup is not None
        rebuilt, replayed = self._lookup.open(repair.dropped_hashes, repair.records)
        self._load_window()
        fresh = created or repair.fresh
        self.heal_report = HealReport(
            created=fresh and not repair.reasons, tip_height=self.tip_height,
            headers_bytes=repair.headers_bytes, index_bytes=repair.index_bytes,
            dropped_headers=repair.dropped, reasons=repair.reasons,
            hash_index_rebuilt=rebuilt and not fresh, hash_index_replayed=replayed)

    @property
    def pending_hash_inserts(self) -> int:
        """Hash-table inserts waiting in memory for their region of the table (see
        :mod:`~aureond.store.hashbuffer`); :meth:`flush` writes them all."""
        return 0 if self._lookup is None else self._lookup.buffered

    def reserve(self, records: int) -> bool:
        """Size the hash table for ``records`` records now (one rebuild of what is
        stored) instead of doubling it on the way; True if it was rebuilt."""
        self._check_open()
        assert self._lookup is not None
        return self._lookup.reserve(records, self._count)

    def _load_window(self) -> None:
        self._window.clear()
        start = max(0, self._count - self._window.size)
        for chunk_start in range(start, self._count, _READ_CHUNK):
            n = min(self._count, chunk_start + _READ_CHUNK) - chunk_start
            hblob, iblob = self._read_blobs(chunk_start, n)
            hashes = [iblob[k:k + 32] for k in range(0, n * INDEX_SIZE, INDEX_SIZE)]
            works = [int.from_bytes(iblob[k + 32:k + INDEX_SIZE], "big")
                     for k in range(0, n * INDEX_SIZE, INDEX_SIZE)]
            self._window.extend(self.meta.anchor_height + chunk_start, hblob, hashes, works)
        last = self._window.tip
        if last is None or self._window.first_height + len(self._window) - 1 != self.tip_height:
            raise StoreError(f"{self.directory}: the tip could not be read back")
        self._tip_hash, self._tip_work = last.hash, last.chainwork

    def _read_blobs(self, start: int, n: int) -> tuple[bytes, bytes]:
        """The raw headers.dat and index.dat bytes of records [start, start + n)."""
        hblob = pread_full(self._hfd, n * HEADER_SIZE, start * HEADER_SIZE)
        iblob = pread_full(self._ifd, n * INDEX_SIZE, start * INDEX_SIZE)
        if len(hblob) != n * HEADER_SIZE or len(iblob) != n * INDEX_SIZE:
            raise StoreError(f"{self.directory}: header files are shorter than expected")
        return hblob, iblob

    def _read_headers(self, start: int, stop: int) -> Iterator[BlockHeader]:
        """The headers at offsets [start, stop), read in chunks."""
        for chunk_start in range(start, stop, _READ_CHUNK):
            n = min(stop, chunk_start + _READ_CHUNK) - chunk_start
            hblob = self._read_blobs(chunk_start, n)[0]
            for k in range(0, n * HEADER_SIZE, HEADER_SIZE):
                yield BlockHeader.parse(hblob[k:k + HEADER_SIZE])

    def _work_of(self, bits: int) -> int:
        work = self._work_cache.get(bits)
        if work is None:
            work = work_from_bits(bits)
            if len(self._work_cache) >= 4096:
                self._work_cache.clear()
            self._work_cache[bits] = work
        return work

    # -- the tip -----------------------------------------------------------------------

    @property
    def anchor_height(self) -> int:
        return self.meta.anchor_height

    @property
    def tip_height(self) -> int:
        return self.meta.anchor_height + self._count - 1

    @property
    def tip_hash(self) -> bytes:
        return self._tip_hash

    @property
    def tip_chainwork(self) -> int:
        return self._tip_work

    # -- reads -------------------------------------------------------------------------

    def _offset(self, height: int) -> int | None:
        offset = height - self.meta.anchor_height
        return offset if 0 <= offset < self._count else None

    def header_at(self, height: int) -> BlockHeader | None:
        entry = self._window.get(height)
        if entry is not None:
            return entry.header
        if self._offset(height) is None:
            return None
        header = self._lru.get(height)
        if header is None:
            raw = self.raw_at(height)
            if raw is None:
                return None
            header = BlockHeader.parse(raw)
            self._lru.put(height, header)
        return header

    def raw_at(self, height: int) -> bytes | None:
        offset = self._offset(height)
        if offset is None:
            return None
        return self._pread(self._hfd, HEADER_SIZE, offset * HEADER_SIZE)

    def _index_at(self, offset: int) -> tuple[bytes, int]:
        return unpack_index(self._pread(self._ifd, INDEX_SIZE, offset * INDEX_SIZE))

    def _pread(self, fd: int, size: int, at: int) -> bytes:
        try:
            raw = pread_full(fd, size, at)
        except OSError as exc:
            raise StoreError(f"cannot read the header store in {self.directory}: {exc}") from exc
        if len(raw) != size:
            raise StoreError(f"{self.directory}: a record is missing; restart to heal the store")
        return raw

    def hash_at(self, height: int) -> bytes | None:
        block_hash = self._window.hash_at(height)
        if block_hash is not None:
            return block_hash
        offset = self._offset(height)
        return None if offset is None else self._index_at(offset)[0]

    def chainwork_at(self, height: int) -> int | None:
        work = self._window.chainwork_at(height)
        if work is not None:
            return work
        offset = self._offset(height)
        return None if offset is None else self._index_at(offset)[1]

    def _hash_at_offset(self, offset: int) -> bytes | None:
        return self.hash_at(self.meta.anchor_height + offset)

    def height_of(self, block_hash: bytes) -> int | None:
        """The height of ``block_hash`` on the stored chain, or None."""
        height = self._window.height_of(block_hash)
        if height is not None:
            return height
        if self._lookup is None or len(block_hash) != 32:
            return None
        try:
            offset = self._lookup.lookup(block_hash, self._hash_at_offset)
        except OSError as exc:
            raise StoreError(f"cannot read {HASH_INDEX_FILE}: {exc}") from exc
        return None if offset is None else self.meta.anchor_height + offset

    def iter_range(self, start: int, stop: int) -> Iterator[BlockHeader]:
        """Headers at heights [start, stop), clamped to what is stored."""
        first = max(start, self.meta.anchor_height) - self.meta.anchor_height
        last = min(stop, self.tip_height + 1) - self.meta.anchor_height
        yield from self._read_headers(first, last)

    def locator_hashes(self) -> list[bytes]:
        """A ``getheaders`` locator (see :func:`~aureond.chain.locator.locator_heights`)."""
        hashes = (self.hash_at(h) for h in locator_heights(self.tip_height, self.anchor_height))
        return [h for h in hashes if h is not None]

    # -- writes ------------------------------------------------------------------------

    def append(self, headers: Sequence[BlockHeader]) -> None:
        """Append headers that extend the tip. Structure is checked, consensus is not:
        the first must link to the tip, each to the one before; else ``StoreError``
        and nothing is written. Chain work is computed from ``bits``."""
        self.append_raw([(h.serialize(), h.hash) for h in headers])

    def append_raw(self, records: Sequence[tuple[bytes, bytes]]) -> None:
        """:meth:`append` for headers already in wire form: (80 raw bytes, their hash).

        The hash must be the double SHA-256 of the bytes (the header tree computed it
        when it validated them); it is not recomputed here. Linkage is checked."""
        if records:
            self.append_run(*join_records(records, self.tip_height))

    def append_run(self, blob: bytes, hashes: Sequence[bytes]) -> None:
        """:meth:`append_raw` for a run of headers as one blob: ``blob`` is their
        concatenated wire bytes, ``hashes`` one double SHA-256 per header, in order.

        The run is checked as a whole (:mod:`~aureond.store.runs`) and the files are
        written with one pwrite each. Raises ``StoreError`` naming the first bad
        header; nothing is written then."""
        if not hashes:
            return
        self._check_open()
        n = len(hashes)
        tip_height = self.tip_height
        joined = check_run(blob, hashes, self._tip_hash, tip_height)
        works = cumulative_works(blob, n, self._tip_work, tip_height, self._work_of)
        offset = self._count
        if offset + n > 0xFFFFFFFD:
            raise StoreError("the header store is full (2**32 records)")
        iblob = index_blob(joined, works)
        try:
            pwrite_full(self._hfd, blob, offset * HEADER_SIZE)
            pwrite_full(self._ifd, iblob, offset * INDEX_SIZE)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self._ifd, offset * INDEX_SIZE)
                os.ftruncate(self._hfd, offset * HEADER_SIZE)
            raise StoreError(f"cannot append to the header store in {self.directory}: "
                             f"{exc}") from exc
        self._count += n
        self._window.extend(self.meta.anchor_height + offset, blob, hashes, works)
        self._tip_hash, self._tip_work = hashes[-1], works[-1]
        self._pending += n
        self._index_hashes(iblob, offset)
        self._maybe_flush()

    def _index_hashes(self, iblob: bytes, offset: int) -> None:
        if self._lookup is None:
            raise StoreError("the header store is closed")
        self._guard(self._lookup.add, iblob, offset, self._count)

    def _guard(self, call: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        """Run a hash-lookup step that may write the table. On failure the store
        closes: the watermark must not be raised over a half-indexed batch or a
        half-placed buffer, so the only way on is a reopen, which re-inserts the
        tail."""
        try:
            call(*args, **kwargs)
        except (OSError, StoreError) as exc:
            self._close_fds()
            raise StoreError(f"cannot update {HASH_INDEX_FILE}: {exc}; reopen the store "
                             "to heal it") from exc

    def _maybe_flush(self) -> None:
        policy = self._policy
        by_count = (policy.every_n_headers is not None
                    and self._pending >= policy.every_n_headers)
        by_time = (policy.every_seconds is not None and self._clock is not None
                   and self._clock.monotonic() - self._last_sync >= policy.every_seconds)
        if by_count or by_time:
            self._flush(complete=False)

    def flush(self) -> None:
        """Fsync everything appended so far; when this returns, it survives a crash.

        It also writes out every hash-table insert still buffered, so the table's
        watermark reaches the tip (a reopen replays nothing). The policy's automatic
        flushes and :meth:`begin_sync` leave a large table's buffer be (see
        :mod:`~aureond.store.hashlookup`)."""
        self._flush(complete=True)

    def _flush(self, *, complete: bool) -> None:
        self._check_open()
        assert self._lookup is not None
        try:
            os.fsync(self._hfd)
            os.fsync(self._ifd)
        except OSError as exc:
            raise StoreError(f"cannot sync the header store in {self.directory}: "
                             f"{exc}") from exc
        self._guard(self._lookup.sync, self._count, complete=complete)
        self._pending = 0
        if self._clock is not None:
            self._last_sync = self._clock.monotonic()

    def begin_sync(self) -> SyncTicket:
        """Start an fsync that may run in another thread (see ``SyncTicket``): run
        ``ticket.fsync()`` anywhere, then :meth:`finish_sync` here."""
        self._check_open()
        lookup = self._lookup
        assert lookup is not None
        self._guard(lookup.settle, self._count)
        ticket = SyncTicket(self._count, lookup.generation, where=str(self.directory),
                            indexed=lookup.frontier(self._count))
        try:
            for fd in (self._hfd, self._ifd, lookup.fileno()):
                ticket.fds.append(os.dup(fd))
        except OSError as exc:
            ticket.release()
            raise StoreError(f"cannot sync the header store in {self.directory}: "
                             f"{exc}") from exc
        return ticket

    def finish_sync(self, ticket: SyncTicket) -> bool:
        """Record a completed ``ticket.fsync()``; False when the store was cut or its
        hash table rebuilt meanwhile (nothing is claimed; the next sync covers it)."""
        ticket.release()
        if self._lookup is None or self._hfd < 0:
            return False
        covered = min(ticket.count, self._count)
        try:
            if not self._lookup.mark_covered(min(covered, ticket.indexed), ticket.generation):
                return False
        except OSError as exc:
            raise StoreError(f"cannot update {HASH_INDEX_FILE}: {exc}") from exc
        self._pending = self._count - covered
        if self._clock is not None:
            self._last_sync = self._clock.monotonic()
        return True

    def truncate(self, to_height: int) -> None:
        """Drop every header above ``to_height`` (a reorg); durable when it returns.

        The hash lookup forgets the dropped hashes. Heights above the tip are a no-op;
        below the anchor is a ``StoreError``.
        """
        self._check_open()
        lookup = self._lookup
        assert lookup is not None
        if to_height < self.meta.anchor_height:
            raise StoreError(f"cannot truncate below the anchor height "
                             f"{self.meta.anchor_height}")
        if to_height >= self.tip_height:
            return
        keep = to_height - self.meta.anchor_height + 1
        try:
            lookup.cut(keep, self._count)
            os.ftruncate(self._ifd, keep * INDEX_SIZE)
            os.ftruncate(self._hfd, keep * HEADER_SIZE)
            os.fsync(self._ifd)
            os.fsync(self._hfd)
        except OSError as exc:
            raise StoreError(f"cannot truncate the header store in {self.directory}: {exc}; "
                             "restart to heal it") from exc
        self._count = keep
        self._pending = 0
        self._lru.drop_above(to_height)
        self._window.pop_above(to_height)
        if len(self._window) < min(self._window.size, self._count):
            self._load_window()
        entry = self._window.get(to_height)
        if entry is None:
            raise StoreError(f"{self.directory}: the new tip could not be read back")
        self._tip_hash, self._tip_work = entry.hash, entry.chainwork
        self._guard(lookup.sync, keep)

    # -- lifecycle ---------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._hfd < 0:
            raise StoreError("the header store is closed")

    def close(self) -> None:
        """Flush (per policy) and release the files and the directory lock."""
        if self._hfd < 0:
            return
        try:
            if self._policy.on_close:
                self.flush()
        finally:
            self._close_fds()

    def _close_fds(self) -> None:
        if self._lookup is not None:
            self._lookup.close()
            self._lookup = None
        for fd in (self._hfd, self._ifd, self._lock_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._hfd = self._ifd = self._lock_fd = -1

    def __enter__(self) -> HeaderStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
