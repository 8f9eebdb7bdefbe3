"""A network's proof-of-work hash spread over several cores.

scrypt (Litecoin) costs about a third of a millisecond a header, against a
microsecond for double SHA-256. ``hashlib.scrypt`` releases the GIL while it works,
so threads run it in parallel: ``PowPool`` splits a run of headers into one share per
worker, hands all shares but the first to its threads and computes the first itself,
then joins the results in order. It is a ``PowHasher`` (raw headers in, hashes out),
injected into the network with ``NetworkParams.with_pow_hasher``; the pure chain layer
only ever calls it, and gets the same bytes the reference hasher gives.

The node also validates a large ``headers`` message a few headers per event-loop turn
(``headers_per_step``): with scrypt that is a few milliseconds of work per turn.
``docs/benchmarks.md`` has the measurements (``bench.bench_scrypt``).
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType

from aureond.chain.header import HEADER_SIZE
from aureond.chain.params import NetworkParams
from aureond.chain.pow import PowHasher, reference_hasher

__all__ = ["MIN_SHARE", "SCRYPT_HEADERS_PER_STEP", "PowPool", "parallel_params"]

MIN_SHARE = 4
"""Fewest headers worth handing to another thread (a hand-off costs tens of µs)."""

SCRYPT_HEADERS_PER_STEP = 16
"""Headers the node validates per event-loop turn on an scrypt network: 16 scrypt
hashes, 5-8 ms of CPU, split over the pool's threads (``HEADERS_PER_STEP`` in
``aureond.p2p.sync``, for double SHA-256, is about 1 ms)."""


class PowPool:
    """``hasher`` run over ``workers`` threads (the calling one included)."""

    def __init__(self, hasher: PowHasher, workers: int | None = None) -> None:
        self._hasher = hasher
        self.workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
        self._executor = (ThreadPoolExecutor(self.workers - 1, thread_name_prefix="pow")
                          if self.workers > 1 else None)

    def __call__(self, raw: bytes) -> list[bytes]:
        n = len(raw) // HEADER_SIZE
        shares = min(self.workers, n // MIN_SHARE)
        if self._executor is None or shares < 2:
            return self._hasher(raw)
        bounds = [n * i // shares * HEADER_SIZE for i in range(shares + 1)]
        pieces = [raw[a:b] for a, b in itertools.pairwise(bounds)]
        futures = [self._executor.submit(self._hasher, piece) for piece in pieces[1:]]
        out = self._hasher(pieces[0])
        for future in futures:
            out.extend(future.result())
        return out

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> PowPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def parallel_params(params: NetworkParams,
                    workers: int | None = None) -> tuple[NetworkParams, PowPool | None]:
    """``params`` hashing on a ``PowPool`` when its PoW hash is not the block hash
    (the pool is returned for closing), else ``params`` unchanged and ``None``."""
    base = reference_hasher(params.pow_hash)
    if base is None:
        return params, None
    pool = PowPool(base, workers)
    return params.with_pow_hasher(pool), pool

