"""A run of headers about to be appended: its structural checks and its chain work.

The store checks structure, not consensus (see :mod:`~aureond.store.headers`): each
record is 80 bytes with a 32-byte hash, each links to the one before, and the chain
work follows from ``bits``. Done for a whole run at once: C-level passes over the
run's bytes and vector operations, so the sync's write path costs little per header.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import accumulate

import numpy as np

from aureond.chain.batch import distinct_values
from aureond.chain.header import HEADER_SIZE
from aureond.errors import EncodingError, StoreError

__all__ = ["check_run", "cumulative_works", "join_records"]


def join_records(records: Sequence[tuple[bytes, bytes]],
                 tip_height: int) -> tuple[bytes, Sequence[bytes]]:
    """(80 raw bytes, hash) records as (their bytes joined, their hashes); raises
    ``StoreError`` naming the first record that is not 80 bytes."""
    raws, hashes = zip(*records, strict=True)
    blob = b"".join(raws)
    if len(blob) != HEADER_SIZE * len(raws) or min(map(len, raws)) != HEADER_SIZE:
        k = next(k for k, raw in enumerate(raws) if len(raw) != HEADER_SIZE)
        raise StoreError(f"header at height {tip_height + 1 + k} is not an 80-byte "
                         "header with a 32-byte hash")
    return blob, hashes


def check_run(blob: bytes, hashes: Sequence[bytes], tip_hash: bytes,
              tip_height: int) -> bytes:
    """Check the run (``blob``: the headers' bytes, ``hashes`` one per header) extends
    the tip ``tip_hash`` at ``tip_height``; returns the hashes concatenated. Raises
    ``StoreError`` naming the first bad header."""
    n = len(hashes)
    joined = b"".join(hashes)
    # Every hash at least 32 bytes and 32 on average: every hash 32 bytes.
    if len(blob) != n * HEADER_SIZE or len(joined) != 32 * n \
            or min(map(len, hashes)) != 32:
        k = next((k for k, h in enumerate(hashes)
                  if len(h) != 32 or len(blob) < (k + 1) * HEADER_SIZE), n - 1)
        raise StoreError(f"header at height {tip_height + 1 + k} is not an 80-byte "
                         "header with a 32-byte hash")
    if not (blob.startswith(tip_hash, 4) and _links(blob, joined, n)):
        k = next(k for k in range(n)
                 if blob[k * HEADER_SIZE + 4:k * HEADER_SIZE + 36]
                 != (tip_hash if k == 0 else hashes[k - 1]))
        raise StoreError(
            f"header at height {tip_height + 1 + k} does not link to the "
            f"{'stored tip' if k == 0 else 'header before it in the batch'}")
    return joined


def _links(blob: bytes, hashes: bytes, n: int) -> bool:
    """Whether each header of ``blob`` after the first names the one before: its
    ``prev`` field equals the previous of the ``n`` concatenated ``hashes``."""
    prevs = np.frombuffer(blob, dtype=np.uint8).reshape(n, HEADER_SIZE)[1:, 4:36]
    return prevs.tobytes() == hashes[:-32]


def cumulative_works(blob: bytes, n: int, base: int, tip_height: int,
                     work_of: Callable[[int], int]) -> list[int]:
    """The chain work through each of the ``n`` headers of ``blob`` on top of ``base``
    (the tip's), from ``bits``: ``work_of`` once per distinct value."""
    bits = np.frombuffer(blob, dtype="<u4").reshape(n, 20)[:, 18]
    distinct = distinct_values(bits)
    works: dict[int, int] = {}
    for b in distinct:
        try:
            works[b] = work_of(b)
        except EncodingError as exc:
            k = int(np.flatnonzero(bits == b)[0])
            raise StoreError(f"header at height {tip_height + 1 + k}: {exc}") from exc
    if len(distinct) == 1:
        step = works[distinct[0]]
        return list(range(base + step, base + step * n + 1, step))
    return list(accumulate(map(works.__getitem__, bits.tolist()), initial=base))[1:]
