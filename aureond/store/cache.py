"""The store's RAM: a window of the most recent headers and a small LRU for the rest.

Both are bounded by construction; neither grows with the chain.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from aureond.chain.header import HEADER_SIZE, BlockHeader

__all__ = ["HeaderLRU", "RecentWindow", "WindowEntry"]


@dataclass(frozen=True, slots=True)
class WindowEntry:
    """A recent header as stored: its 80 wire bytes, its hash and the chain work up to
    it. Parsed only when asked (most entries never are)."""

    raw: bytes
    hash: bytes
    chainwork: int

    @property
    def header(self) -> BlockHeader:
        return BlockHeader.parse(self.raw)


class _Run:
    """Consecutive headers appended together: their wire bytes, hashes and chain work."""

    __slots__ = ("blob", "first", "hashes", "works")

    def __init__(self, first: int, blob: bytes, hashes: Sequence[bytes],
                 works: Sequence[int]) -> None:
        self.first = first
        self.blob = blob
        self.hashes = hashes
        self.works = works

    @property
    def stop(self) -> int:
        return self.first + len(self.hashes)


class RecentWindow:
    """The last ``size`` headers of the chain (consecutive heights ending at the tip).

    The validator reads retarget periods and median-time-past from here, and recent
    hashes (announcements, locators) resolve here without touching the disk.

    Held as the runs they were appended in (one blob per run, no object per header),
    so an append costs a few C-level calls whatever its length. Whole runs are let go
    once newer ones cover ``size`` heights, so up to one run more than ``size`` stays
    in memory; reads answer for the last ``size`` heights only.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("the window must hold at least one header")
        self.size = size
        self._runs: list[_Run] = []
        self._heights: dict[bytes, int] = {}
        self._indexed = 0  # runs[:_indexed] are in _heights
        self._held = 0

    def __len__(self) -> int:
        return min(self._held, self.size)

    @property
    def first_height(self) -> int:
        if not self._runs:
            return 0
        return max(self._runs[0].first, self._runs[-1].stop - self.size)

    def clear(self) -> None:
        self._runs.clear()
        self._reindex()
        self._held = 0

    def push(self, height: int, entry: WindowEntry) -> None:
        """Add the header at ``height`` (the new tip)."""
        self.extend(height, entry.raw, (entry.hash,), (entry.chainwork,))

    def extend(self, first: int, blob: bytes, hashes: Sequence[bytes],
               works: Sequence[int]) -> None:
        """Add a run of headers from height ``first`` (the next one): ``blob`` is
        their concatenated wire bytes, ``hashes`` and ``works`` (cumulative) one per
        header."""
        if not hashes:
            return
        if self._runs and first != self._runs[-1].stop:
            raise ValueError(f"window expects height {self._runs[-1].stop}")
        self._runs.append(_Run(first, blob, hashes, works))
        self._held += len(hashes)
        while self._held - len(self._runs[0].hashes) >= self.size:
            self._held -= len(self._runs.pop(0).hashes)
            self._indexed = max(0, self._indexed - 1)
        if len(self._heights) > 4 * self.size:
            self._reindex()

    def pop_above(self, height: int) -> None:
        """Drop every entry above ``height``."""
        while self._runs and self._runs[-1].stop - 1 > height:
            run = self._runs.pop()
            keep = max(0, height + 1 - run.first)
            self._held -= len(run.hashes) - keep
            if keep:
                self._runs.append(_Run(run.first, run.blob[:keep * HEADER_SIZE],
                                       run.hashes[:keep], run.works[:keep]))
        self._reindex()

    def _reindex(self) -> None:
        self._heights.clear()
        self._indexed = 0

    def _find(self, height: int) -> tuple[_Run, int] | None:
        runs = self._runs
        if not runs or not self.first_height <= height < runs[-1].stop:
            return None
        i = bisect_right(runs, height, key=_first) - 1
        return runs[i], height - runs[i].first

    def get(self, height: int) -> WindowEntry | None:
        found = self._find(height)
        if found is None:
            return None
        run, k = found
        return WindowEntry(run.blob[k * HEADER_SIZE:(k + 1) * HEADER_SIZE], run.hashes[k],
                           run.works[k])

    def hash_at(self, height: int) -> bytes | None:
        found = self._find(height)
        return None if found is None else found[0].hashes[found[1]]

    def chainwork_at(self, height: int) -> int | None:
        found = self._find(height)
        return None if found is None else found[0].works[found[1]]

    @property
    def tip(self) -> WindowEntry | None:
        return self.get(self._runs[-1].stop - 1) if self._runs else None

    def height_of(self, block_hash: bytes) -> int | None:
        """The height of a hash in the window. The hash -> height map is brought up
        to date here, not on every append: under a ``HeaderChain`` the tree answers
        for these heights first, so most appended runs are never looked up. Entries of
        runs let go of stay in the map until it is rebuilt (at 4 x ``size``), and are
        screened out by height."""
        runs = self._runs
        for run in runs[self._indexed:]:
            self._heights.update(zip(run.hashes, range(run.first, run.stop), strict=True))
        self._indexed = len(runs)
        height = self._heights.get(block_hash)
        if height is None or not self.first_height <= height < runs[-1].stop:
            return None
        return height


def _first(run: _Run) -> int:
    return run.first


class HeaderLRU:
    """A small least-recently-used map height -> header for random lookups."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(0, capacity)
        self._items: OrderedDict[int, BlockHeader] = OrderedDict()

    def get(self, height: int) -> BlockHeader | None:
        header = self._items.get(height)
        if header is not None:
            self._items.move_to_end(height)
        return header

    def put(self, height: int, header: BlockHeader) -> None:
        if self.capacity == 0:
            return
        self._items[height] = header
        self._items.move_to_end(height)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def drop_above(self, height: int) -> None:
        for key in [k for k in self._items if k > height]:
            del self._items[key]
