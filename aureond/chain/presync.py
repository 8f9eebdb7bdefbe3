"""Headers presync: a chain's work is proven before any of it is kept.

A run of headers that could only be kept before its chain is known to carry enough work
(our own chain is still below the network's minimum chain work, or the run forks off
our chain below the in-memory window) is first *presynced*: every header is validated
in full from the context at the fork point, and only a constant-size state is kept: the
running context, the count and one salted bit for one header in every
``COMMITMENT_PERIOD``. Once the chain's work reaches the target, the same headers are
asked for again (*redownload*); each is validated again and its bit compared with the
commitment, and headers are released for keeping only when ``REDOWNLOAD_BUFFER`` more
headers behind them have matched, or when the target is reached. A peer that shows a
heavy chain first and serves another one second is caught, except with probability
about ``2 ** -(REDOWNLOAD_BUFFER / COMMITMENT_PERIOD)`` (2**-24). This is the scheme of
Bitcoin Core's ``headerssync.cpp`` (v24 onward), written anew for this node.

Which headers are committed is secret: the salt and the offset in the period come from
the caller's randomness, so a peer cannot craft a second chain that matches them.

Memory per presync, the bound the sync layer relies on:

* the running contexts and counters: under 1 KiB;
* the commitments: one bit per ``COMMITMENT_PERIOD`` headers, and never more than a
  chain could have grown since the fork point (at most six headers per second of
  median-time-past, plus the future limit, as in Core): about 200 bytes per million
  headers;
* the redownload buffer: at most ``REDOWNLOAD_BUFFER`` raw headers (1.15 MB).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import Enum

from aureond.chain.batch import validate_batch
from aureond.chain.context import ChainContext
from aureond.chain.hashing import dsha256
from aureond.chain.header import HEADER_SIZE
from aureond.chain.params import NetworkParams
from aureond.errors import HeaderRejectedError

__all__ = ["COMMITMENT_PERIOD", "MAX_HEADERS_PER_SECOND", "REDOWNLOAD_BUFFER",
           "Fed", "HeadersPresync", "Phase", "PresyncMismatchError"]

COMMITMENT_PERIOD = 600
"""One header in this many carries a commitment bit."""
REDOWNLOAD_BUFFER = 14_400
"""Headers held back in the redownload until this many more have matched: 24 bits."""
MAX_HEADERS_PER_SECOND = 6
"""A chain can grow at most this fast on average under the median-time-past rule."""


class Phase(Enum):
    PRESYNC = "presync"
    REDOWNLOAD = "redownload"
    DONE = "done"


class PresyncMismatchError(HeaderRejectedError):
    """The redownloaded chain is not the one presynced (or is longer than it was)."""


@dataclass(frozen=True, slots=True)
class Fed:
    """What one ``feed`` did.

    ``released``: raw headers (a connected run starting on ``released_parent``) that may
    now be kept. ``ask_from``: the hash to ask the peer to continue from (the peer's
    next ``getheaders`` locator head), or None once done.
    """

    released: bytes
    released_parent: bytes
    ask_from: bytes | None
    phase: Phase


class HeadersPresync:
    """The presync and redownload of one peer's chain from one fork point."""

    def __init__(self, params: NetworkParams, start: ChainContext, target_work: int,
                 *, salt: bytes, offset: int, now: int,
                 period: int = COMMITMENT_PERIOD, buffer: int = REDOWNLOAD_BUFFER) -> None:
        if period < 1 or buffer < 0:
            raise ValueError("period must be positive and buffer not negative")
        self._params = params
        self._start = start
        self.target_work = target_work
        self._salt = bytes(salt)
        self._offset = offset % period
        self._period = period
        self._buffer_limit = buffer
        self.phase = Phase.PRESYNC
        self._ctx = start  # the presync's running context
        self._bits = bytearray()  # one commitment per byte (0 or 1): small, and simple
        span = max(0, now - start.median_time_past()) + params.max_future_seconds
        self._max_commitments = MAX_HEADERS_PER_SECOND * span // period + 1
        self._presync_height = start.height
        self._redo = start  # the redownload's running context
        self._redo_checked = 0  # commitments compared so far
        self._buffer: list[bytes] = []  # raw headers not yet released
        self._buffer_parent = start.hash

    # --- queries ----------------------------------------------------------------

    @property
    def start(self) -> ChainContext:
        return self._start

    @property
    def fork_height(self) -> int:
        return self._start.height

    @property
    def presync_height(self) -> int:
        """The highest height presynced (validated once)."""
        return self._presync_height

    @property
    def presync_work(self) -> int:
        return self._ctx.chainwork

    @property
    def next_parent(self) -> bytes:
        """The hash the next run must build on."""
        return self._ctx.hash if self.phase is Phase.PRESYNC else self._redo.hash

    @property
    def redownload_height(self) -> int:
        return self._redo.height

    @property
    def redownload_work(self) -> int:
        """The chain work of the redownloaded chain so far (its tip's, once done)."""
        return self._redo.chainwork

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def memory_bytes(self) -> int:
        """What this presync holds, in bytes (the bound in the module docstring)."""
        return 1024 + len(self._bits) + HEADER_SIZE * len(self._buffer)

    # --- feeding ----------------------------------------------------------------

    def feed(self, raw: bytes, now: int) -> Fed:
        """Validate the next connected run of the peer's chain.

        Raises ``HeaderRejectedError`` (an invalid header; ``time-too-new`` among them)
        or ``PresyncMismatchError`` (the redownload differs from the presync); the state
        is unchanged by a run that raises.
        """
        if self.phase is Phase.PRESYNC:
            return self._presync(raw, now)
        if self.phase is Phase.REDOWNLOAD:
            return self._redownload(raw, now)
        raise ValueError("the presync is done; feed the chain instead")

    def _bit(self, block_hash: bytes) -> int:
        return hashlib.blake2b(block_hash, key=self._salt, digest_size=8).digest()[0] & 1

    def _committed(self, height: int) -> bool:
        return height % self._period == self._offset

    def _presync(self, raw: bytes, now: int) -> Fed:
        result = validate_batch(self._params, self._ctx, raw, now)
        first = self._ctx.height + 1
        new_bits = [self._bit(h) for i, h in enumerate(result.hashes)
                    if self._committed(first + i)]
        if len(self._bits) + len(new_bits) > self._max_commitments:
            raise HeaderRejectedError(first, "time", "presync-too-long",
                                      "more headers than the chain could have grown "
                                      "since the fork point")
        self._bits.extend(new_bits)
        self._ctx = result.context
        self._presync_height = result.context.height
        if self._ctx.chainwork >= self.target_work:
            self.phase = Phase.REDOWNLOAD
            return Fed(b"", self._start.hash, self._start.hash, self.phase)
        return Fed(b"", self._start.hash, self._ctx.hash, self.phase)

    def _redownload(self, raw: bytes, now: int) -> Fed:
        first = self._redo.height + 1
        result = validate_batch(self._params, self._redo, raw, now)
        if (result.context.chainwork < self.target_work
                and result.context.height >= self._presync_height):
            raise PresyncMismatchError(self._presync_height, "hash", "presync-mismatch",
                                       "the redownload reaches the presynced height "
                                       "without the presynced work")
        checked = self._redo_checked
        for i, h in enumerate(result.hashes):
            if first + i <= self._presync_height and self._committed(first + i):
                if self._bits[checked] != self._bit(h):
                    raise PresyncMismatchError(first + i, "hash", "presync-mismatch",
                                               "the redownloaded chain differs from the "
                                               "presynced one")
                checked += 1
        self._redo_checked = checked
        self._redo = result.context
        self._buffer.extend(raw[i:i + HEADER_SIZE] for i in range(0, len(raw), HEADER_SIZE))
        parent = self._buffer_parent
        if self._redo.chainwork >= self.target_work:
            self.phase = Phase.DONE
            released = b"".join(self._buffer)
            self._buffer.clear()
            self._bits = bytearray()
            return Fed(released, parent, None, self.phase)
        excess = len(self._buffer) - self._buffer_limit
        released = b""
        if excess > 0:
            released = b"".join(self._buffer[:excess])
            self._buffer_parent = dsha256(self._buffer[excess - 1])
            del self._buffer[:excess]
        return Fed(released, parent, self._redo.hash, self.phase)
