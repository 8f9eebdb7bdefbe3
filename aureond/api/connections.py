"""Open HTTP connections: a cap on how many, and deadlines for slow or idle clients.

aiohttp sets no deadline on a request head or body and keeps an idle connection for an
hour, so a few hundred sockets that trickle bytes, or a few thousand that send nothing,
would hold the process's file descriptors until the store and the peers cannot open
theirs. Every accepted socket is therefore wrapped in a :class:`GuardedConnection` (an
asyncio protocol in front of aiohttp's own request handler), and one
:class:`ConnectionGuard` keeps them all, each in a phase with its deadline:

======  ============================================  ==================================
phase   the connection                                closed
======  ============================================  ==================================
NEW     is accepted; no request has started yet       ``head_timeout`` after the accept
HEAD    sent the first bytes of a request after IDLE  ``head_timeout`` after those bytes
BODY    has its request body being read by the API    ``body_timeout`` after the start
BUSY    is being answered                             never (that is the node's own work)
IDLE    is kept alive, waiting for the next request   ``idle_timeout`` after the answer
======  ============================================  ==================================

Apart from the phase, a client that leaves an answer unread until the send buffer is
full (asyncio's ``pause_writing``) is cut off after ``send_timeout`` unless it reads.

At most ``max_connections`` are open. A new connection beyond that takes the place of
the one that has waited longest without a request in progress (NEW, HEAD or IDLE),
which is closed: sockets held open cannot lock a monitoring probe out, and a probe's
connection cannot be evicted once its request is in. Only when every open connection
is being answered is the new one closed at once.

:meth:`ConnectionGuard.sweep` checks the deadlines; :func:`sweep_forever` runs it
every :attr:`ConnectionLimits.tick` seconds of the injected clock, so tests move time
with a fake clock. The guard does not parse HTTP: a head pipelined behind a request in
progress has ``idle_timeout`` to complete rather than ``head_timeout``.

:func:`connection_cap` turns ``http.max_connections`` and ``http.fd_reserve`` into the
cap, checked against the process's open-file limit.
"""

from __future__ import annotations

import asyncio
import enum
import math
import resource
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from aureond.clock import Clock
from aureond.errors import ConfigError

__all__ = [
    "MAX_DERIVED",
    "MIN_CONNECTIONS",
    "ConnectionGuard",
    "ConnectionLimits",
    "GuardedConnection",
    "Phase",
    "connection_cap",
    "open_file_limit",
    "sweep_forever",
]

MIN_CONNECTIONS = 8
"""The fewest HTTP connections a derived cap may leave (probe, scraper, operator)."""
MAX_DERIVED = 16_384
"""The most a derived cap allows (an idle connection costs ~6 KB; containers often
have an open-file limit of 1,048,576)."""


class Phase(enum.Enum):
    NEW = "new"
    HEAD = "head"
    BODY = "body"
    BUSY = "busy"
    IDLE = "idle"


_WAITING = frozenset({Phase.NEW, Phase.HEAD, Phase.IDLE})
"""Phases without a request in progress: the ones a new connection may evict."""
_TIMEOUT_REASON = {Phase.NEW: "head_timeout", Phase.HEAD: "head_timeout",
                   Phase.BODY: "body_timeout", Phase.IDLE: "idle_timeout"}


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The cap and the deadlines (seconds) of :class:`ConnectionGuard`."""

    max_connections: int
    head_timeout: float
    body_timeout: float
    idle_timeout: float
    send_timeout: float

    def __post_init__(self) -> None:
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        for seconds in (self.head_timeout, self.body_timeout, self.idle_timeout,
                        self.send_timeout):
            if not (math.isfinite(seconds) and seconds > 0):
                raise ValueError("timeouts must be positive numbers of seconds")

    @property
    def tick(self) -> float:
        """How often deadlines are checked: a tenth of the shortest, within 20 ms-1 s.
        A connection is closed at most one tick after its deadline."""
        shortest = min(self.head_timeout, self.body_timeout, self.idle_timeout,
                       self.send_timeout)
        return min(1.0, max(0.02, shortest / 10))

    def timeout(self, phase: Phase) -> float:
        if phase is Phase.NEW or phase is Phase.HEAD:
            return self.head_timeout
        if phase is Phase.BODY:
            return self.body_timeout
        if phase is Phase.IDLE:
            return self.idle_timeout
        return math.inf


class GuardedConnection(asyncio.Protocol):
    """One accepted socket: aiohttp's request handler behind the guard.

    asyncio calls the protocol methods; the API's middleware reports the request's
    progress with :meth:`request_started`, :meth:`body_started`,
    :meth:`body_received` and :meth:`request_finished`. aiohttp's handler is only made
    once the guard admits the connection.
    """

    __slots__ = ("_guard", "_inner", "_make_inner", "closed_reason", "deadline", "lost",
                 "phase", "send_deadline", "transport")

    def __init__(self, guard: ConnectionGuard,
                 make_inner: Callable[[], asyncio.Protocol]) -> None:
        self._guard = guard
        self._make_inner = make_inner
        self._inner: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None
        self.phase = Phase.NEW
        self.deadline = math.inf
        self.send_deadline = math.inf
        self.closed_reason: str | None = None
        """Why the node closed it (a ``CLOSE_REASONS`` value); None while open or when
        the client closed it."""
        self.lost = False
        """asyncio reported the connection gone (whoever closed it)."""

    # --- asyncio's side ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        if self._guard.admit(self):
            self._inner = self._make_inner()
            self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is None:
            return
        if self.phase is Phase.IDLE:
            self._guard.enter(self, Phase.HEAD)
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._guard.release(self)
        if self._inner is not None:
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()
        self._guard.send_stalled(self)

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()
        self._guard.send_resumed(self)

    # --- the API's side ---------------------------------------------------------------

    def request_started(self) -> None:
        self._guard.enter(self, Phase.BUSY)

    def body_started(self) -> None:
        self._guard.enter(self, Phase.BODY)

    def body_received(self) -> None:
        if self.phase is Phase.BODY:
            self._guard.enter(self, Phase.BUSY)

    def request_finished(self) -> None:
        self._guard.enter(self, Phase.IDLE)

    # --- the guard's side -------------------------------------------------------------

    def close(self, reason: str, *, abort: bool = False) -> None:
        """Close it for ``reason``: FIN after what is buffered, or RST with ``abort``."""
        if self.closed_reason is not None:
            return
        self.closed_reason = reason
        if self.transport is not None:
            if abort:
                self.transport.abort()
            else:
                self.transport.close()


class ConnectionGuard:
    """The open connections, their phases and deadlines (see the module doc).

    ``on_close(reason)`` is told of every connection the guard closes (a metric).
    """

    def __init__(self, limits: ConnectionLimits, clock: Clock,
                 on_close: Callable[[str], None] | None = None) -> None:
        self.limits = limits
        self._clock = clock
        self._on_close = on_close
        self._waiting: dict[GuardedConnection, None] = {}
        """NEW, HEAD and IDLE connections, longest waiting first (insertion order)."""
        self._busy: set[GuardedConnection] = set()

    @property
    def open(self) -> int:
        """Connections admitted and not yet closed."""
        return len(self._waiting) + len(self._busy)

    def in_phase(self, phase: Phase) -> int:
        """How many open connections are in ``phase``."""
        pool = self._waiting if phase in _WAITING else self._busy
        return sum(1 for conn in pool if conn.phase is phase)

    def admit(self, conn: GuardedConnection) -> bool:
        """A connection was accepted: track it, making room at the cap; False when it
        was refused (and closed) because every open connection is busy."""
        if self.open >= self.limits.max_connections:
            victim = next(iter(self._waiting), None)
            if victim is None:
                conn.close("over_capacity", abort=True)
                self._closed("over_capacity")
                return False
            self._close(victim, "evicted")
        self.enter(conn, Phase.NEW)
        return True

    def enter(self, conn: GuardedConnection, phase: Phase) -> None:
        """``conn`` moves to ``phase``; its deadline restarts from now."""
        if conn.lost or conn.closed_reason is not None:
            return  # gone, or closed by the guard and not yet reported lost
        conn.phase = phase
        conn.deadline = self._clock.monotonic() + self.limits.timeout(phase)
        self._waiting.pop(conn, None)
        if phase in _WAITING:
            self._busy.discard(conn)
            self._waiting[conn] = None
        else:
            self._busy.add(conn)

    def send_stalled(self, conn: GuardedConnection) -> None:
        if conn.send_deadline == math.inf:
            conn.send_deadline = self._clock.monotonic() + self.limits.send_timeout

    def send_resumed(self, conn: GuardedConnection) -> None:
        conn.send_deadline = math.inf

    def release(self, conn: GuardedConnection) -> None:
        """The connection is gone (asyncio's ``connection_lost``); idempotent."""
        self._waiting.pop(conn, None)
        self._busy.discard(conn)

    def sweep(self) -> int:
        """Close every connection past a deadline; how many were closed."""
        now = self._clock.monotonic()
        overdue = [c for c in (*self._waiting, *self._busy)
                   if c.deadline <= now or c.send_deadline <= now]
        for conn in overdue:
            if conn.send_deadline <= now:
                self._close(conn, "send_timeout", abort=True)
            else:
                self._close(conn, _TIMEOUT_REASON[conn.phase])
        return len(overdue)

    def _close(self, conn: GuardedConnection, reason: str, *, abort: bool = False) -> None:
        self.release(conn)
        conn.close(reason, abort=abort)
        self._closed(reason)

    def _closed(self, reason: str) -> None:
        if self._on_close is not None:
            self._on_close(reason)


async def sweep_forever(guard: ConnectionGuard, clock: Clock) -> None:
    """Check the guard's deadlines every tick until cancelled."""
    while True:
        await clock.sleep(guard.limits.tick)
        guard.sweep()


def open_file_limit() -> int:
    """The process's soft open-file limit (``ulimit -n``, systemd's ``LimitNOFILE=``)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def connection_cap(max_connections: int, fd_reserve: int, open_files: int) -> int:
    """The HTTP connection cap: ``max_connections``, or with 0 the open-file limit less
    ``fd_reserve`` (at most :data:`MAX_DERIVED`); ``ConfigError`` when the limit cannot
    hold it and the reserve."""
    room = open_files - fd_reserve
    raise_it = "raise the limit (LimitNOFILE= in the systemd unit, ulimit -n)"
    if max_connections == 0:
        if room < MIN_CONNECTIONS:
            raise ConfigError(
                "http.fd_reserve",
                f"the open-file limit is {open_files} and http.fd_reserve keeps "
                f"{fd_reserve} of them for the store and peers, which leaves "
                f"{max(room, 0)} for HTTP connections (at least {MIN_CONNECTIONS}): "
                f"{raise_it} or lower http.fd_reserve")
        return min(room, MAX_DERIVED)
    if max_connections > room:
        raise ConfigError(
            "http.max_connections",
            f"{max_connections} connections and the {fd_reserve} file descriptors of "
            f"http.fd_reserve need {max_connections + fd_reserve}, but the open-file "
            f"limit is {open_files}: set http.max_connections to at most {max(room, 0)} "
            f"(0 derives it from the limit) or {raise_it}")
    return max_connections
