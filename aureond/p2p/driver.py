"""The asyncio driver: the only place that touches sockets for the P2P layer.

It carries out the core's commands and feeds it events (see ``aureond.p2p``):

* ``Connect`` opens a TCP connection (each attempt bounded by ``connect_timeout``;
  with ``connect_retry``, a refused, reset or timed-out attempt is retried under that
  ``Retrier``, operation ``"connect"``) and answers ``PeerConnected`` or
  ``ConnectFailed``; every attempt and failure goes to ``recovery`` (per address);
* bytes read from a connection go through a ``FrameDecoder`` (magic, checksum, the
  network's payload limit) and ``decode_frame``; each message becomes
  ``MessageReceived``; a framing or decoding error closes the connection and becomes
  ``PeerDisconnected(reason="protocol-error")``; end of stream ``"eof"``, a socket
  error ``"reset"``;
* any other error while the core handles that connection's events closes it too, with
  ``"internal-error"`` (logged once, with the traceback), so the peer's slot is freed
  at once and the node goes on; a ``StoreError`` there closes it with
  ``"store-error"`` and goes to ``on_store_error``: the daemon passes
  ``DurableHeaders.fail``, which stops the node with the store error exit code, as a
  failed write does;
* ``Send`` queues the encoded message on the connection's bounded send queue; a
  writer task takes a token from the peer's token bucket for each message, writes and
  drains (a queue that fills up disconnects the peer: ``"send-queue-full"``);
* ``Disconnect`` closes the connection and, with ``ban_seconds``, records the ban;
* ``NeedAddresses`` resolves the network's DNS seeds in a worker thread (each lookup
  retried under ``dns_retry``, operation ``"dns-seed"``, when a resolver is busy) and
  answers ``AddressesLearned``;
* a ``Tick`` goes to the core every ``tick_interval`` seconds; ``deliver`` feeds it
  events from elsewhere (an operator lifting a ban);
* before each message, ``backpressure()`` (when given) is awaited: the node's store
  writer uses it to stop reading from peers while too many headers wait for the disk.

Notifications are passed to ``on_notification`` (metrics and logs). The core is
synchronous; everything it does runs on the loop between awaits, so no locking.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from aureond.chain.params import NetworkParams
from aureond.clock import Clock
from aureond.errors import ProtocolError, RetryExhaustedError, StoreError
from aureond.p2p.actions import (
    Action,
    Connect,
    Continue,
    Disconnect,
    NeedAddresses,
    Notification,
    Send,
)
from aureond.p2p.events import (
    AddressesLearned,
    ConnectFailed,
    Event,
    MessageReceived,
    PeerConnected,
    PeerDisconnected,
    PeerId,
    Resume,
    Tick,
)
from aureond.resilience.classify import classify
from aureond.resilience.recovery import RecoveryBook
from aureond.resilience.retry import Retrier
from aureond.resilience.token_bucket import TokenBucket
from aureond.store.peers import PeerAddress
from aureond.wire import FrameDecoder, decode_frame, encode_message

__all__ = ["Core", "P2PDriver"]

READ_CHUNK = 64 * 1024
SEND_QUEUE_LIMIT = 1000
TICK_INTERVAL = 1.0
DNS_TIMEOUT = 10.0
CLOSE_TIMEOUT = 2.0
GIVE_WAY_TURNS = 6
"""Extra event-loop turns yielded after each message or step while ``give_way()``."""

log = structlog.get_logger("aureond.p2p")


class Core(Protocol):
    """The sans-I/O P2P core the driver runs."""

    def handle(self, event: Event) -> list[Action]: ...


@dataclass(eq=False)
class _Connection:
    peer: PeerId
    writer: asyncio.StreamWriter
    queue: asyncio.Queue[bytes] = field(
        default_factory=lambda: asyncio.Queue(SEND_QUEUE_LIMIT))
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    closed: bool = False
    resume: bool = False  # the core asked to continue with this peer's message


class P2PDriver:
    """Runs a ``Core`` over real TCP connections until cancelled."""

    def __init__(self, core: Core, params: NetworkParams, clock: Clock, *,
                 connect_timeout: float = 10.0, tick_interval: float = TICK_INTERVAL,
                 bucket_factory: Callable[[PeerId], TokenBucket] | None = None,
                 on_notification: Callable[[Notification], None] | None = None,
                 ban: Callable[[PeerAddress, str, float], object] | None = None,
                 resolver: Callable[[], Awaitable[list[PeerAddress]]] | None = None,
                 backpressure: Callable[[], Awaitable[None]] | None = None,
                 give_way: Callable[[], bool] | None = None,
                 connect_retry: Retrier | None = None, dns_retry: Retrier | None = None,
                 recovery: RecoveryBook[PeerAddress] | None = None,
                 on_store_error: Callable[[StoreError], None] | None = None) -> None:
        self._core = core
        self._params = params
        self._clock = clock
        self._connect_timeout = connect_timeout
        self._tick_interval = tick_interval
        self._bucket_factory = bucket_factory
        self._on_notification = on_notification
        self._ban = ban
        self._resolver = resolver if resolver is not None else self._resolve_seeds
        self._backpressure = backpressure
        self._give_way = give_way
        self._connect_retry = connect_retry
        self._dns_retry = dns_retry
        self._recovery = recovery
        self._on_store_error = on_store_error
        self._connections: dict[PeerId, _Connection] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self._resolving = False
        self._stopping = False

    # --- running --------------------------------------------------------------------

    @property
    def connected_peers(self) -> list[PeerId]:
        return [p for p, c in self._connections.items() if not c.closed]

    async def run(self) -> None:
        """Deliver ticks and run connections until cancelled; then close everything."""
        try:
            self._dispatch(Tick(self._clock.wall()))
            while True:
                await self._clock.sleep(self._tick_interval)
                self._dispatch(Tick(self._clock.wall()))
        finally:
            self._stopping = True
            await self._close_all()

    def deliver(self, event: Event) -> None:
        """Feed the core an event that no socket produced (an operator's ``BanLifted``)
        and carry out what it answers; call it from the driver's event loop."""
        self._dispatch(event)

    def _dispatch(self, event: Event) -> None:
        if self._stopping:
            return
        for action in self._core.handle(event):
            self._execute(action)

    def _execute(self, action: Action) -> None:
        match action:
            case Send(peer=peer, message=message):
                self._send(peer, encode_message(message, self._params.magic,
                                                max_payload=self._params.max_payload))
            case Connect(peer=peer):
                self._spawn(self._connect(peer))
            case Disconnect(peer=peer, reason=reason, ban_seconds=ban_seconds):
                if ban_seconds and self._ban is not None:
                    self._ban(peer.address, reason, float(ban_seconds))
                log.info("p2p.disconnect", peer=str(peer), reason=reason,
                         banned_for=ban_seconds)
                self._close(peer)
            case Continue(peer=peer):
                conn = self._connections.get(peer)
                if conn is not None:
                    conn.resume = True
            case NeedAddresses():
                if not self._resolving:
                    self._resolving = True
                    self._spawn(self._learn_addresses())
            case _:
                if self._on_notification is not None:
                    self._on_notification(action)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._pending.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("p2p.task_failed", error=repr(task.exception()))

    # --- connections ----------------------------------------------------------------

    async def _open(self, address: PeerAddress) -> tuple[asyncio.StreamReader,
                                                         asyncio.StreamWriter]:
        """One TCP connect attempt, bounded by ``connect_timeout``."""
        if self._recovery is not None:
            self._recovery.attempt(address)
        try:
            async with asyncio.timeout(self._connect_timeout):
                return await asyncio.open_connection(address.host, address.port)
        except (TimeoutError, OSError) as exc:
            if self._recovery is not None:
                self._recovery.failed(address, exc, classify(exc))
            raise

    async def _connect(self, peer: PeerId) -> None:
        address = peer.address
        try:
            if self._connect_retry is None:
                reader, writer = await self._open(address)
            else:
                reader, writer = await self._connect_retry.call(
                    "connect", lambda: self._open(address))
        except (RetryExhaustedError, TimeoutError, OSError) as exc:
            last = exc.__cause__ if isinstance(exc, RetryExhaustedError) else exc
            if isinstance(last, TimeoutError):
                reason = "timeout"
            elif isinstance(last, ConnectionRefusedError):
                reason = "refused"
            else:
                reason = "unreachable"
            self._dispatch(ConnectFailed(peer, reason, self._clock.wall()))
            return
        conn = _Connection(peer, writer)
        self._connections[peer] = conn
        conn.tasks.append(asyncio.ensure_future(self._write_loop(conn)))
        await self._read_loop(conn, reader)

    async def _read_loop(self, conn: _Connection, reader: asyncio.StreamReader) -> None:
        """Announce the connection, then feed the core its messages until it ends; every
        way out closes it and tells the core why (see the module docstring)."""
        decoder = FrameDecoder(self._params.magic, self._params.max_payload)
        reason = "eof"
        try:
            self._dispatch(PeerConnected(conn.peer, self._clock.wall()))
            while not conn.closed:
                data = await reader.read(READ_CHUNK)
                if not data:
                    break
                decoder.receive_data(data)
                while not conn.closed and (frame := decoder.next_frame()) is not None:
                    if self._backpressure is not None:
                        await self._backpressure()
                    message = decode_frame(frame)
                    self._dispatch(MessageReceived(conn.peer, message, self._clock.wall()))
                    # One message (or one step of a large one) at a time: let other
                    # peers, the HTTP API and the store writer run in between.
                    await self._yield()
                    while conn.resume and not conn.closed:
                        conn.resume = False
                        self._dispatch(Resume(conn.peer, self._clock.wall()))
                        await self._yield()
        except ProtocolError as exc:
            reason = "protocol-error"
            log.info("p2p.protocol_error", peer=str(conn.peer), error=str(exc))
        except (ConnectionError, OSError):
            reason = "reset"
        except StoreError as exc:
            reason = "store-error"
            log.error("p2p.store_error", peer=str(conn.peer), exc_info=exc)
            if self._on_store_error is not None:
                self._on_store_error(exc)
        except Exception as exc:  # a bug here must not leave the peer's slot taken
            reason = "internal-error"
            log.error("p2p.internal_error", peer=str(conn.peer), exc_info=exc)
        if not conn.closed:
            self._close(conn.peer)
            self._dispatch(PeerDisconnected(conn.peer, reason, self._clock.wall()))

    async def _yield(self) -> None:
        """One loop turn; a few more while ``give_way()`` says others are waiting."""
        await asyncio.sleep(0)
        if self._give_way is not None and self._give_way():
            for _ in range(GIVE_WAY_TURNS):
                await asyncio.sleep(0)

    async def _write_loop(self, conn: _Connection) -> None:
        bucket = self._bucket_factory(conn.peer) if self._bucket_factory else None
        try:
            while True:
                data = await conn.queue.get()
                if bucket is not None:
                    await bucket.acquire(1)
                conn.writer.write(data)
                await conn.writer.drain()
        except (ConnectionError, OSError):
            if not conn.closed:
                self._close(conn.peer)
                self._dispatch(PeerDisconnected(conn.peer, "reset", self._clock.wall()))

    def _send(self, peer: PeerId, data: bytes) -> None:
        conn = self._connections.get(peer)
        if conn is None or conn.closed:
            return
        try:
            conn.queue.put_nowait(data)
        except asyncio.QueueFull:
            self._close(peer)
            self._dispatch(PeerDisconnected(peer, "send-queue-full", self._clock.wall()))

    def _close(self, peer: PeerId) -> None:
        conn = self._connections.pop(peer, None)
        if conn is None or conn.closed:
            return
        conn.closed = True
        for task in conn.tasks:
            task.cancel()
        conn.writer.close()

    async def _close_all(self) -> None:
        for peer in list(self._connections):
            self._close(peer)
        pending = list(self._pending)
        for task in pending:
            task.cancel()
        if pending:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await asyncio.gather(*pending, return_exceptions=True)

    # --- addresses --------------------------------------------------------------------

    async def _learn_addresses(self) -> None:
        try:
            addresses = await self._resolver()
        finally:
            self._resolving = False
        if addresses:
            self._dispatch(AddressesLearned(tuple(addresses), self._clock.wall()))

    async def _lookup(self, seed: str) -> list[PeerAddress]:
        """One lookup of ``seed`` in a worker thread (the resolver blocks)."""
        async with asyncio.timeout(DNS_TIMEOUT):
            infos = await asyncio.to_thread(socket.getaddrinfo, seed,
                                            self._params.default_port,
                                            type=socket.SOCK_STREAM)
        return _addresses(infos)

    async def _resolve_seeds(self) -> list[PeerAddress]:
        found: list[PeerAddress] = []
        for seed in self._params.dns_seeds:
            try:
                if self._dns_retry is None:
                    found.extend(await self._lookup(seed))
                else:
                    found.extend(await self._dns_retry.call(
                        "dns-seed", functools.partial(self._lookup, seed)))
            except (RetryExhaustedError, OSError, TimeoutError) as exc:
                last = exc.__cause__ if isinstance(exc, RetryExhaustedError) else exc
                log.warning("p2p.dns_seed_failed", seed=seed, error=str(exc),
                            last_error=str(last))
        return found


def _addresses(infos: Iterable[tuple[object, ...]]) -> list[PeerAddress]:
    out: list[PeerAddress] = []
    for info in infos:
        sockaddr = info[4]
        if isinstance(sockaddr, tuple) and len(sockaddr) >= 2:
            out.append(PeerAddress(str(sockaddr[0]), int(sockaddr[1])))
    return out
