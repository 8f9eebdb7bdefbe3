"""Golomb-Rice coding of sorted sets (the bit stream inside a BIP158 filter).

A sorted set is coded as the differences between successive values (the first from
0). A difference ``x`` is written as its quotient ``x >> P`` in unary (that many 1
bits, then a 0, the terminator) followed by its remainder in ``P`` bits, most
significant first; codes follow one another with no gap and the stream is padded
with zero bits to a whole byte.

Decoding is a walk through a finite automaton whose state says where the reader is
inside a code: in the unary part (state 0), or having read ``k - 1`` remainder bits
(state ``k``, 1 <= k <= P). The walk reads 16 bits per step through a table of the
next state for each (16-bit symbol, state), so it never loops over bits or codes. The
states alone then locate the codes: a code's terminator lies in a symbol exactly when
the state after the symbol is in [1, 16], at offset 16 minus that state (with
``P >= 16`` no code starts and ends in one symbol, and a symbol without a terminator
leaves state 0 or a state above 16). The remainders and the running sums follow from
whole-array operations.

The walk is the only sequential part. :func:`decode` runs it as a Python loop (one
table lookup per 16 bits); :func:`decode_groups` runs it for many streams at once,
one numpy lane per stream, so each step costs two numpy calls for the whole batch.

A stream is accepted exactly when it holds ``n`` codes and its last byte is the one
the last code ends in: fewer codes, or any byte after that one, is an
:class:`~aureond.errors.EncodingError`, as the reference node refuses it. The padding
bits of the last byte are not checked (the reference node does not check them).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cache

import numpy as np
import numpy.typing as npt

from aureond.errors import EncodingError

__all__ = ["MAX_P", "MIN_P", "decode", "decode_groups", "decode_many", "encode"]

U64 = npt.NDArray[np.uint64]
U8 = npt.NDArray[np.uint8]
Index = npt.NDArray[np.intp]
Buffer = bytes | bytearray | memoryview

#: Smallest remainder width the 16-bit walk supports (no code inside one symbol).
MIN_P = 16
#: Largest remainder width (a remainder plus its bit offset fits one 64-bit word).
MAX_P = 32
#: Streams walked together (one numpy lane each): a step of the walk is two numpy
#: calls for all of them, so more lanes spread the calls' cost thinner. Memory: one
#: byte per 16 bits of the longest stream, per lane.
_WALK_LANES = 512
#: Steps of the walk whose table indices are held at once (8 bytes per lane each).
_WALK_BLOCK = 128
#: Streams whose codes are finished together: few enough that the temporaries (8
#: bytes per code) stay small, which also keeps the allocator from returning them
#: to the system and faulting them back in on every group.
_FINISH_LANES = 16


def _check_p(p: int) -> None:
    if not MIN_P <= p <= MAX_P:
        raise ValueError(f"Golomb-Rice parameter P must be in [{MIN_P}, {MAX_P}], got {p}")


def _slot_bits(p: int) -> int:
    """Table index = symbol << bits | state: a power-of-two slot per symbol, so the
    state is read back from an index by a mask (states run 0..p, so p.bit_length())."""
    return p.bit_length()


@cache
def _table(p: int) -> U8:
    """The next state for every (16-bit symbol, state), at ``symbol << bits | state``.

    Built from the 8-bit table by composing a symbol's two bytes.
    """
    states = p + 1
    sym = np.repeat(np.arange(256, dtype=np.int16), states)
    state = np.tile(np.arange(states, dtype=np.int16), 256)
    for i in range(8):
        bit = (sym >> (7 - i)) & 1
        state = np.where(state == 0, 1 - bit, np.where(state == p, 0, state + 1))
    next8 = state.reshape(256, states)
    # next16[hi, lo, s] = next8[lo, next8[hi, s]]
    next16 = next8[:, next8].transpose(1, 0, 2).reshape(65536, states)
    table = np.zeros((65536, 1 << _slot_bits(p)), np.uint8)
    table[:, :states] = next16
    return table.reshape(-1)


def encode(values: U64, p: int) -> bytes:
    """The stream coding sorted ``values``: each difference from the one before (the
    first from 0) as a Golomb-Rice code, zero-padded to a whole byte."""
    _check_p(p)
    v = np.asarray(values, np.uint64)
    if v.size == 0:
        return b""
    if v.size > 1 and bool(np.any(v[1:] < v[:-1])):
        raise ValueError("Golomb-Rice coding of a set needs its values sorted")
    d = np.diff(v, prepend=np.uint64(0))
    q = (d >> np.uint64(p)).astype(np.int64)
    r = d & np.uint64((1 << p) - 1)
    length = q + (p + 1)
    end = np.cumsum(length)
    start = end - length
    term = start + q                                  # where each terminating 0 sits
    bits = np.zeros(int(end[-1]), np.uint8)
    ones = int(q.sum())
    if ones:
        run_start = np.repeat(start - (np.cumsum(q) - q), q)
        bits[run_start + np.arange(ones)] = 1
    shifts = np.arange(p - 1, -1, -1, dtype=np.uint64)
    bits[(term + 1)[:, None] + np.arange(p)] = (r[:, None] >> shifts) & np.uint64(1)
    return np.packbits(bits).tobytes()


def _check_room(n: int, size: int, p: int, what: str) -> None:
    if n < 0:
        raise ValueError(f"{what}: negative element count {n}")
    if n * (p + 1) > size * 8:
        raise EncodingError(f"{what}: {n} codes need at least {n * (p + 1)} bits, "
                            f"the stream has {size * 8}")


def _finish(after: U8, raw: Buffer, counts: Sequence[int], sizes: Sequence[int], p: int,
            what: Sequence[str], bases: npt.NDArray[np.int64] | None = None,
            ) -> tuple[U64, Index]:
    """The values of every lane from the walk's states.

    ``after[lane, j]`` is the state after the lane's 16-bit symbol ``j`` (``after`` is
    scratch: it is overwritten); ``raw`` holds the lanes' bytes, one row of
    ``2 * after.shape[1]`` bytes each, and 16 bytes more. A code ends in symbol ``j``,
    its terminator at offset ``o``, exactly when that state is ``16 - o``, in [1, 16]:
    with no terminator the state is 0 (unary ones) or ``k + 16`` > 16 (a remainder
    still being read; P >= 16 keeps a code from starting and ending in one symbol).

    Returns every lane's values (the running sums of its deltas, plus the lane's
    ``bases`` entry if given), concatenated, and the lane bounds into them. Checks
    each lane holds exactly its count of codes.
    """
    lanes, width = after.shape
    want = np.asarray(counts, np.int64)
    size = np.asarray(sizes, np.int64)
    # A terminator beyond 8 * size - (p + 1) leaves no room for its remainder: it
    # is padding, or the stream is short. Clear those before counting codes.
    limit = size * 8 - (p + 1)
    last = np.where(limit >= 0, limit >> 4, -1)
    for lane in range(lanes):
        after[lane, last[lane] + 1:] = 0
    rows = np.flatnonzero(last >= 0)
    edge = after[rows, last[rows]]
    late = (edge - 1 < 16) & (last[rows] * 16 + 16 - edge > limit[rows])
    after[rows[late], last[rows[late]]] = 0
    flat = np.flatnonzero((after - np.uint8(1)) < 16)     # symbols where a code ends
    row_bits = 16 * width
    bounds = np.searchsorted(flat, np.arange(lanes + 1) * width)
    found = np.diff(bounds)
    wrong = np.flatnonzero(found != want)
    if wrong.size:
        i = int(wrong[0])
        if found[i] < want[i]:
            raise EncodingError(f"{what[i]}: {int(found[i])} complete codes in the "
                                f"{int(size[i])}-byte stream, {int(want[i])} announced")
        raise EncodingError(f"{what[i]}: excess data after {int(want[i])} codes")
    state = after.ravel()[flat]
    # The terminator sits at bit ``t16 + 16`` of ``raw`` (16 - state into its symbol).
    t16 = (flat << 4) - state
    lane_bits = np.arange(lanes, dtype=np.int64) * row_bits
    has = found > 0
    used = np.zeros(lanes, np.int64)
    used[has] = (t16[bounds[1:][has] - 1] - lane_bits[has] + (16 + p + 1 + 7)) >> 3
    extra = np.flatnonzero(used != size)
    if extra.size:
        i = int(extra[0])
        raise EncodingError(f"{what[i]}: {int(size[i] - used[i])} bytes of excess data "
                            f"after {int(want[i])} codes")
    # The remainder: the p bits after the terminator, in the 64-bit word that starts
    # at the terminator's symbol. (Signed shifts are fine: the mask keeps bits that
    # the sign never reaches.)
    word = _words(raw, lanes * width)[flat]
    rem = (word >> (state + (47 - p))) & ((1 << p) - 1)
    # Code c of a lane (from 0) has value ((terminator - c * (p + 1)) << p) plus the
    # lane's remainders up to c: the terminator counts the unary ones, and the codes
    # before it, p + 1 bits each, beside them. Taking (p + 1) << p off every remainder
    # accounts for the codes; a constant added to each lane's first remainder accounts
    # for where the lane starts and undoes the running sum of the lanes before it.
    rem -= (p + 1) << p
    first = bounds[:-1][has]
    lane_sums = np.add.reduceat(rem, first) if first.size else rem[:0]
    before = np.cumsum(lane_sums) - lane_sums
    offset = ((16 + p + 1 - lane_bits[has]) << p) - before
    if bases is not None:
        offset += bases[has]
    rem[first] += offset - np.concatenate(([0], offset[:-1]))
    values = (t16 << p) + np.cumsum(rem)
    return values.view(np.uint64), bounds.astype(np.intp)


def _words(raw: Buffer, symbols: int) -> npt.NDArray[np.int64]:
    """The big-endian 64-bit word starting at each of the first ``symbols`` 16-bit
    symbols of ``raw`` (which has at least 8 bytes after them), as signed ints."""
    quarter = (symbols + 3) // 4
    words = np.empty((quarter, 4), np.int64)
    for o in range(4):
        words[:, o] = np.frombuffer(raw, ">i8", quarter, 2 * o)
    return words.reshape(-1)


def _symbol_rows(streams: Sequence[bytes]) -> tuple[npt.NDArray[np.uint16], bytearray]:
    """The streams as rows of 16-bit symbols, zero-padded, each row with two zero
    symbols more than the longest stream needs; and the bytes behind them (with 16
    zero bytes after the last row)."""
    width = max((len(d) + 1) // 2 for d in streams) + 2
    row = 2 * width
    buf = bytearray(row * len(streams) + 16)
    for i, data in enumerate(streams):
        buf[i * row:i * row + len(data)] = data
    big = np.frombuffer(buf, ">u2", len(streams) * width).reshape(len(streams), width)
    # Native byte order once: the walk reads the symbols a block at a time, and
    # byte-swapping reads there cost several times plain ones.
    return big.astype(np.uint16), buf


def decode(data: bytes, n: int, p: int) -> U64:
    """The ``n`` sorted values whose successive differences ``data`` codes."""
    _check_p(p)
    _check_room(n, len(data), p, "Golomb-Rice stream")
    if n == 0:
        if data:
            raise EncodingError(f"Golomb-Rice stream: {len(data)} bytes of excess data "
                                "after 0 codes")
        return np.zeros(0, np.uint64)
    table = _table(p).data          # indexing a memoryview yields ints, like bytes
    symbols, buf = _symbol_rows([data])
    base = (symbols[0].astype(np.int64) << _slot_bits(p)).tolist()
    s = 0
    after = np.array([[s := table[b | s] for b in base]], np.uint8)
    after[0, -2:] = 0
    values, _ = _finish(after, buf, (n,), (len(data),), p, ("Golomb-Rice stream",))
    return values


def decode_groups(streams: Sequence[tuple[bytes, int]], p: int, *, what: str = "stream",
                  first: int = 0, bases: Sequence[int] | npt.NDArray[np.int64] | None = None,
                  ) -> Iterator[tuple[int, U64, Index]]:
    """Decode many ``(data, n)`` streams, a group at a time.

    Yields ``(start, values, bounds)``: stream ``start + i``'s values are
    ``values[bounds[i]:bounds[i + 1]]``. With ``bases``, stream ``i``'s values come
    with ``bases[i]`` added (bases that grow by at least each stream's range keep
    the streams apart in one sorted array). Memory stays bounded by the group size
    whatever the number of streams. A malformed stream raises
    :class:`~aureond.errors.EncodingError` naming it as ``what`` and its index
    (plus ``first``).
    """
    added = None if bases is None else np.asarray(bases, np.int64)
    _check_p(p)
    for i, (data, n) in enumerate(streams):
        _check_room(n, len(data), p, f"{what} {first + i}")
    for lo in range(0, len(streams), _WALK_LANES):
        group = streams[lo:lo + _WALK_LANES]
        symbols, buf = _symbol_rows([d for d, _ in group])
        after = _walk(symbols, p)
        row = 2 * symbols.shape[1]
        view = memoryview(buf)
        for a in range(0, len(group), _FINISH_LANES):
            part = group[a:a + _FINISH_LANES]
            b = a + len(part)
            values, bounds = _finish(
                after[a:b], view[a * row:b * row + 16], [n for _, n in part],
                [len(d) for d, _ in part], p,
                [f"{what} {first + lo + a + i}" for i in range(len(part))],
                None if added is None else added[lo + a:lo + b])
            yield lo + a, values, bounds


def decode_many(streams: Sequence[tuple[bytes, int]], p: int) -> tuple[U64, Index]:
    """All of :func:`decode_groups` at once: the concatenated values and stream bounds."""
    parts: list[U64] = []
    bounds_all = np.zeros(len(streams) + 1, np.intp)
    for first, values, bounds in decode_groups(streams, p):
        parts.append(values)
        bounds_all[first + 1:first + bounds.size] = bounds[1:] + bounds_all[first]
    if not parts:
        return np.zeros(0, np.uint64), bounds_all
    return np.concatenate(parts), bounds_all


def _walk(symbols: npt.NDArray[np.uint16], p: int) -> U8:
    """Walk every row of ``symbols`` at once, one lane each: the state after each symbol
    (the last two columns, padding, are left 0).

    A step is two numpy calls for all lanes: add the states to the symbols' table
    indices, look the next states up. The indices are built a block of steps at a
    time, which bounds the scratch memory to one block; rows stay lane by lane, so
    that nothing is transposed (a step reads and writes one column of the block).
    """
    lanes, width = symbols.shape
    steps = width - 2
    table = _table(p)
    bits = np.intp(_slot_bits(p))   # a numpy scalar: with a Python int it stays 16-bit
    mask = (1 << _slot_bits(p)) - 1
    after = np.zeros((lanes, width), np.uint8)
    block = np.empty((lanes, min(steps, _WALK_BLOCK)), np.intp)
    state = np.zeros(lanes, np.uint8)
    for j0 in range(0, steps, _WALK_BLOCK):
        j1 = min(steps, j0 + _WALK_BLOCK)
        idx = block[:, :j1 - j0]
        np.left_shift(symbols[:, j0:j1], bits, out=idx)
        for j in range(j1 - j0):
            column = idx[:, j]
            np.add(column, state, out=column)
            state = table[column]
        # idx now holds symbol << bits | state before; the state after symbol j is
        # the state before symbol j + 1, and the last one is the walk's state.
        np.bitwise_and(idx[:, 1:], mask, out=after[:, j0:j1 - 1], casting="unsafe")
        after[:, j1 - 1] = state
    return after
