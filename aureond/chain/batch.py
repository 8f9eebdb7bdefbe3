"""Fast validation of a run of raw headers extending one context.

Header sync receives headers 2,000 at a time, so the rules are checked for a whole run
at once: one tight loop does the double SHA-256 (the only per-header Python work), and
every other rule is a vector operation over the run (numpy views of the raw bytes, no
per-header objects).

Correctness is anchored on the reference rules in ``aureond.chain.rules``: the fast
path only ever *accepts*; when any vector check fails, the run is re-validated header
by header with ``validate_header``, which raises the precise error (height, field,
reason). The fast path is at least as strict as the reference; tests check the two
agree on real data and on mutated runs.
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass
from hashlib import sha256
from itertools import repeat
from typing import Literal

import numpy as np
import numpy.typing as npt

from aureond.chain.context import MTP_WINDOW, ChainContext
from aureond.chain.header import HEADER_SIZE, BlockHeader
from aureond.chain.params import NetworkParams
from aureond.chain.rules import retarget, validate_header
from aureond.chain.target import bits_to_target, work_from_target
from aureond.errors import EncodingError, HeaderRejectedError

__all__ = ["BatchResult", "distinct_values", "hash_headers", "validate_batch"]

_LITTLE = sys.byteorder == "little"
_LITTLE_ENDIAN: repeat[Literal["little"]] = repeat("little")
_RECORD = struct.Struct(f"{HEADER_SIZE}s")
U32 = npt.NDArray[np.uint32]
_MAX_RUN = 2000
"""Headers in a ``headers`` message: runs up to this long index their median-time-past
windows with one precomputed array."""
_WINDOW_STEPS = np.arange(_MAX_RUN)[:, None] + np.arange(MTP_WINDOW)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """A validated run: the context after its last header and each header's hash."""

    context: ChainContext
    hashes: list[bytes]
    works: list[int]

    @property
    def count(self) -> int:
        return len(self.hashes)


def hash_headers(raw: bytes) -> list[bytes]:
    """Double SHA-256 of every 80-byte record in ``raw``."""
    s = sha256
    return [s(s(r[0]).digest()).digest() for r in _RECORD.iter_unpack(raw)]


def _check_length(raw: bytes) -> int:
    if len(raw) % HEADER_SIZE:
        raise EncodingError(
            f"header data is {len(raw)} bytes, not a multiple of {HEADER_SIZE}")
    return len(raw) // HEADER_SIZE


def _slow(params: NetworkParams, ctx: ChainContext, raw: bytes, now: int) -> BatchResult:
    """Header-by-header reference validation (raises at the first invalid header)."""
    hashes: list[bytes] = []
    works: list[int] = []
    for o in range(0, len(raw), HEADER_SIZE):
        header = BlockHeader.parse(raw[o:o + HEADER_SIZE])
        work = validate_header(params, ctx, header, now)
        ctx = ctx.advance(params, header, work)
        hashes.append(header.hash)
        works.append(work)
    return BatchResult(ctx, hashes, works)


def validate_batch(params: NetworkParams, ctx: ChainContext, raw: bytes,
                   now: int) -> BatchResult:
    """Validate concatenated raw headers on top of ``ctx`` at time ``now``.

    Returns the new context, the hashes and per-header work; raises
    ``HeaderRejectedError`` for the first invalid header (earlier ones are valid, and
    the caller may keep them by validating the prefix again) and ``EncodingError`` when
    ``raw`` is not a whole number of headers.
    """
    n = _check_length(raw)
    if n == 0:
        return BatchResult(ctx, [], [])
    # Near genesis or an anchor the median-time-past window is not full yet; those few
    # headers take the reference path, the rest the fast one.
    head = max(0, min(n, MTP_WINDOW - len(ctx.recent_times)))
    if head or n < 8 or not _LITTLE:
        first = _slow(params, ctx, raw[:head * HEADER_SIZE] if head else raw, now)
        if not head or head == n:
            return first
        rest = validate_batch(params, first.context, raw[head * HEADER_SIZE:], now)
        return BatchResult(rest.context, first.hashes + rest.hashes,
                           first.works + rest.works)
    result = _fast(params, ctx, raw, n, now)
    return result if result is not None else _slow(params, ctx, raw, now)


def _fast(params: NetworkParams, ctx: ChainContext, raw: bytes, n: int,
          now: int) -> BatchResult | None:
    """Vector checks; ``None`` when any check fails (the caller then finds out why)."""
    hashes = hash_headers(raw)
    words: U32 = np.frombuffer(raw, dtype="<u4").reshape(n, 20)
    times = words[:, 17].astype(np.int64)
    bits = words[:, 18]

    # Linkage: each prev field equals the previous hash.
    if not raw.startswith(ctx.hash, 4):
        return None
    joined = b"".join(hashes)
    prevs = np.frombuffer(raw, dtype=np.uint8).reshape(n, HEADER_SIZE)[1:, 4:36]
    if prevs.tobytes() != joined[:-32]:
        return None

    first_height = ctx.height + 1
    interval = params.retarget_interval
    # Indices of the retarget boundaries in the run, and a mask of them.
    boundary_idx = range((-first_height) % interval, n, interval)
    at_boundary = np.zeros(n, dtype=bool)
    at_boundary[boundary_idx.start::interval] = True

    # Expected bits. Boundaries get the retarget (computed once each, from the actual
    # preceding headers); elsewhere the parent's bits, or the min-difficulty rules.
    expected = np.empty(n, dtype=np.int64)
    if params.allow_min_difficulty:
        prev_times = np.empty(n, dtype=np.int64)
        prev_times[0] = ctx.time
        prev_times[1:] = times[:-1]
        pl = params.pow_limit_bits
        anchor_walk = (bits != pl) | at_boundary
        idx = np.where(anchor_walk, np.arange(n), -1)
        last = np.maximum.accumulate(idx)
        walk_before = np.empty(n, dtype=np.int64)
        walk_before[0] = ctx.walk_bits
        prev_last = last[:-1]
        walk_before[1:] = np.where(prev_last >= 0, bits[np.maximum(prev_last, 0)],
                                   ctx.walk_bits)
        slow_block = times > prev_times + 2 * params.target_spacing
        expected[:] = np.where(slow_block, pl, walk_before)
    else:
        expected[0] = ctx.bits
        expected[1:] = bits[:-1]
    if boundary_idx:
        running = ctx
        for i in boundary_idx:
            running = _context_before(params, ctx, raw, hashes, i, running)
            expected[i] = retarget(params, running)
            if (params.enforce_bip94
                    and int(times[i]) < running.time - params.max_timewarp_seconds):
                return None
    if not bool((expected == bits).all()):
        return None

    # Proof of work: every bits value decodes canonically, is within the pow limit,
    # and every hash is at or below its target.
    targets: dict[int, int] = {}
    distinct = distinct_values(bits)
    for b in distinct:
        try:
            t = bits_to_target(b)
        except EncodingError:
            return None
        if t > params.pow_limit:
            return None
        targets[b] = t
    if not _meets_targets(hashes, bits, targets, joined=joined, distinct=distinct):
        return None
    if len(targets) == 1:
        works = [work_from_target(targets[distinct[0]])] * n
        total_work = works[0] * n
    else:
        work_of = {b: work_from_target(t) for b, t in targets.items()}
        works = [work_of[b] for b in bits.tolist()]
        total_work = sum(works)

    # Median time past: each time is after the median of the 11 before it.
    ext = np.concatenate((np.asarray(ctx.recent_times, dtype=np.int64), times))
    n_times = len(times)
    steps = (_WINDOW_STEPS[:n_times] if n_times <= _MAX_RUN
             else np.arange(n_times)[:, None] + np.arange(MTP_WINDOW))
    windows = ext[steps]  # row i: the 11 times before header i
    medians = np.partition(windows, MTP_WINDOW // 2, axis=1)[:, MTP_WINDOW // 2]
    if not bool(np.all(times > medians)):
        return None
    if int(times.max()) > now + params.max_future_seconds:
        return None

    # Version minimums (the vector form of rules.min_version).
    versions = words[:, 0].view(np.int32)
    for threshold, minimum in ((params.bip34_height, 2), (params.bip66_height, 3),
                               (params.bip65_height, 4)):
        if threshold is None or threshold >= first_height + n:
            continue
        start = max(0, threshold - first_height)
        if int(versions[start:].min()) < minimum:
            return None

    # Checkpoints.
    for height, want in params.checkpoint_map.items():
        i = height - ctx.height - 1
        if 0 <= i < n and hashes[i] != want:
            return None

    context = _final_context(params, ctx, raw, hashes, total_work, bits, times,
                             at_boundary)
    return BatchResult(context, hashes, works)


def distinct_values(values: U32) -> list[int]:
    """The distinct values of ``values``, ascending (one min/max pass when they are
    all equal, as across most of a retarget period)."""
    low, high = int(values.min()), int(values.max())
    return [low] if low == high else np.unique(values).tolist()


def _meets_targets(hashes: list[bytes], bits: U32, targets: dict[int, int], *,
                   joined: bytes | None = None, distinct: list[int] | None = None) -> bool:
    """Every hash (little-endian number) is at or below the target of its bits.
    ``joined`` (the hashes concatenated) and ``distinct`` (the distinct bits,
    ascending) save recomputing what the caller has.

    Vectorized on the top 128 bits of each side, as two 64-bit words compared in
    order: a hash above its target there fails, below passes; only a tie in all 128
    bits (about never) is compared in full.
    """
    n = len(hashes)
    joined = b"".join(hashes) if joined is None else joined
    distinct = distinct_values(bits) if distinct is None else distinct
    words = np.frombuffer(joined, dtype="<u8").reshape(n, 4)
    wanted = [targets[k] for k in distinct]
    hi_of = np.array([t >> 192 for t in wanted], dtype=np.uint64)
    lo_of = np.array([(t >> 128) & 0xFFFFFFFFFFFFFFFF for t in wanted], dtype=np.uint64)
    if len(distinct) == 1:
        hi, lo = hi_of[0], lo_of[0]
    else:
        inverse = np.searchsorted(np.array(distinct, dtype=np.uint32), bits)
        hi, lo = hi_of[inverse], lo_of[inverse]
    same_hi = words[:, 3] == hi
    if bool(np.any((words[:, 3] > hi) | (same_hi & (words[:, 2] > lo)))):
        return False
    for i in np.flatnonzero(same_hi & (words[:, 2] == lo)).tolist():
        if int.from_bytes(hashes[i], "little") > targets[int(bits[i])]:
            return False
    return True


def _header_fields(raw: bytes, i: int) -> tuple[int, int]:
    """(time, bits) of header ``i``."""
    o = i * HEADER_SIZE
    return (int.from_bytes(raw[o + 68:o + 72], "little"),
            int.from_bytes(raw[o + 72:o + 76], "little"))


def _context_before(params: NetworkParams, start: ChainContext, raw: bytes,
                    hashes: list[bytes], i: int, running: ChainContext) -> ChainContext:
    """The context whose tip is header ``i - 1`` of the run (only what retarget needs).

    Retargeting reads the parent's time and bits and the period's first header; both
    are in the run or in ``start``. ``running`` carries the previous boundary's data.
    """
    if i == 0:
        return start
    time_, bits_ = _header_fields(raw, i - 1)
    first_i = i - params.retarget_interval
    if first_i >= 0:
        first_time, first_bits = _header_fields(raw, first_i)
    else:
        first_time, first_bits = start.period_first_time, start.period_first_bits
    return ChainContext(start.height + i, hashes[i - 1], time_, bits_, 0, (), first_time,
                        first_bits, running.walk_bits)


def _final_context(params: NetworkParams, ctx: ChainContext, raw: bytes,
                   hashes: list[bytes], total_work: int, bits: U32,
                   times: npt.NDArray[np.int64], at_boundary: npt.NDArray[np.bool_]
                   ) -> ChainContext:
    n = len(hashes)
    interval = params.retarget_interval
    last_height = ctx.height + n
    first_height = last_height - last_height % interval
    if first_height > ctx.height:
        first_time, first_bits = _header_fields(raw, first_height - ctx.height - 1)
    else:
        first_time, first_bits = ctx.period_first_time, ctx.period_first_bits
    walkers = np.flatnonzero((bits != params.pow_limit_bits) | at_boundary)
    walk = int(bits[walkers[-1]]) if len(walkers) else ctx.walk_bits
    recent = (*ctx.recent_times, *times[-MTP_WINDOW:].tolist())[-MTP_WINDOW:]
    return ChainContext(
        height=last_height, hash=hashes[-1], time=int(times[-1]), bits=int(bits[-1]),
        chainwork=ctx.chainwork + total_work, recent_times=recent,
        period_first_time=first_time, period_first_bits=first_bits, walk_bits=walk)


def first_invalid(params: NetworkParams, ctx: ChainContext, raw: bytes,
                  now: int) -> HeaderRejectedError | None:
    """The error for the first invalid header of ``raw``, or ``None`` if all are valid."""
    try:
        validate_batch(params, ctx, raw, now)
    except HeaderRejectedError as exc:
        return exc
    return None
