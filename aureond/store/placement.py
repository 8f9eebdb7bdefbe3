"""Vectorized linear-probing placement into a run of hash-table slots read from disk.

:meth:`HashIndex.place <aureond.store.hashindex.HashIndex.place>` reads the slots
around a batch of entries in one pread, fills them here, and writes the changed span
back in one pwrite. Slots are ``(tag, value)`` uint32 pairs; value 0 is empty, and a
slot read as one little-endian u64 (``tag | value << 32``) is empty below 2**32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Filled", "fill_sorted"]

_EMPTY_BELOW = np.uint64(1 << 32)


@dataclass(frozen=True, slots=True)
class Filled:
    """What :func:`fill_sorted` did: ``placed`` entries written between slots
    ``start`` and ``stop``; ``left``, indices of the entries whose probe ran past the
    slots given (the caller inserts those one by one)."""

    placed: int
    start: int
    stop: int
    left: Any


def fill_sorted(slots: Any, pos: Any, rows: Any, *, known: bool = False) -> Filled:
    """Place entries ``rows`` ((tag, value) pairs) whose home slots are ``pos``
    (indices into ``slots``, ascending) into the empty slots of ``slots``, in place.

    No probing rounds: taken in home order, each entry lands on the first free slot at
    or after both its home and the slot of the entry before it, which is where
    inserting them one by one in that order would put them (the free slots up to there
    are taken by then). Only empty slots are filled. ``known``: some pairs may be in
    ``slots`` already (a replay after a crash); those are found along their probe and
    left out, as a one-by-one insert would."""
    is_free = slots.view("<u8").ravel() < _EMPTY_BELOW
    free = np.flatnonzero(is_free)
    # Free slots before each home: the index in ``free`` of its first free slot.
    first_free = np.cumsum(is_free, dtype=np.int32)[pos] - is_free[pos]
    entries = np.arange(len(pos))
    if known:
        entries = np.flatnonzero(~_present(slots, pos, first_free, free, rows))
        first_free = first_free[entries]
    steps = np.arange(len(entries))
    taken = np.maximum.accumulate(first_free - steps) + steps
    placed = int(np.count_nonzero(taken < len(free)))
    if not placed:
        return Filled(0, 0, 0, entries)
    where = free[taken[:placed]]
    slots[where] = rows[entries[:placed]]
    return Filled(placed, int(where[0]), int(where[-1]) + 1, entries[placed:])


def _present(slots: Any, pos: Any, first_free: Any, free: Any, rows: Any) -> Any:
    """Which entries' (tag, value) pairs already sit in ``slots`` along their probe:
    from their home ``pos`` up to the first free slot. Checked a step at a time for
    all entries together (probe runs are short at under half load)."""
    n = len(pos)
    ends = np.where(first_free < len(free), free[np.minimum(first_free, len(free) - 1)],
                    len(slots))
    found = np.zeros(n, dtype=bool)
    at = pos.copy()
    active = np.flatnonzero(at < ends)
    while len(active):
        hit = np.all(slots[at[active]] == rows[active], axis=1)
        found[active[hit]] = True
        at[active] += 1
        active = active[~hit & (at[active] < ends[active])]
    return found
