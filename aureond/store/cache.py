"""The store's RAM: a window of the most recent headers and a small LRU for the rest.

Both are bounded by construction; neither grows with the chain.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

from aureond.chain.header import BlockHeader

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


class RecentWindow:
    """The last ``size`` headers of the chain (consecutive heights ending at the tip).

    The validator reads retarget periods and median-time-past from here, and recent
    hashes (announcements, locators) resolve here without touching the disk.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("the window must hold at least one header")
        self.size = size
        self._entries: deque[WindowEntry] = deque()
        self._heights: dict[bytes, int] = {}
        self._first = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def first_height(self) -> int:
        return self._first

    def clear(self) -> None:
        self._entries.clear()
        self._heights.clear()

    def push(self, height: int, entry: WindowEntry) -> None:
        """Add the header at ``height`` (the new tip), evicting the oldest when full."""
        if not self._entries:
            self._first = height
        elif height != self._first + len(self._entries):
            raise ValueError(f"window expects height {self._first + len(self._entries)}")
        self._entries.append(entry)
        self._heights[entry.hash] = height
        if len(self._entries) > self.size:
            old = self._entries.popleft()
            self._heights.pop(old.hash, None)
            self._first += 1

    def pop_above(self, height: int) -> None:
        """Drop every entry above ``height``."""
        while self._entries and self._first + len(self._entries) - 1 > height:
            old = self._entries.pop()
            self._heights.pop(old.hash, None)

    def get(self, height: int) -> WindowEntry | None:
        index = height - self._first
        if 0 <= index < len(self._entries):
            return self._entries[index]
        return None

    def height_of(self, block_hash: bytes) -> int | None:
        return self._heights.get(block_hash)


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
