"""A deterministic network simulation for the P2P core.

Scripted in-process peers answer the core's messages from their own mined regtest
chains; a fake clock, per-connection latency (FIFO, like TCP), and optional loss of the
core's messages. Every message crosses the real wire codec both ways: the core's are
encoded and decoded before a peer sees them, and a peer's bytes go through a
``FrameDecoder``, so a peer that sends garbage makes the simulated driver report
``PeerDisconnected(reason="protocol-error")`` exactly as the real one would.
"""

from __future__ import annotations

import contextlib
import heapq
import random
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import TypeVar

from aureond.chain.header import BlockHeader
from aureond.chain.params import REGTEST, NetworkParams
from aureond.chain.tree import AddResult, Node, TipChanged
from aureond.clock import FakeClock, SeededRandom
from aureond.errors import RemoteProtocolError
from aureond.p2p.actions import Action, Connect, Disconnect, NeedAddresses, Send
from aureond.p2p.events import (
    ConnectFailed,
    Event,
    MessageReceived,
    PeerConnected,
    PeerDisconnected,
    PeerId,
    Tick,
)
from aureond.p2p.headerchain import DEFAULT_TREE_WINDOW, HeaderChain
from aureond.p2p.interfaces import BackoffSchedule, BreakerFactory, ForkWriter
from aureond.p2p.manager import PeerManager
from aureond.p2p.node import TICK_INTERVAL, P2PProtocol
from aureond.store.headers import HeaderStore
from aureond.store.peers import PeerAddress
from aureond.store.policy import FsyncPolicy
from aureond.wire import (
    MAX_HEADERS_RESULTS,
    FeeFilter,
    FrameDecoder,
    GetHeaders,
    Headers,
    Inv,
    InvType,
    InvVector,
    Message,
    NetAddress,
    Ping,
    Pong,
    Protoconf,
    SendCmpct,
    SendHeaders,
    ServiceFlags,
    Unknown,
    Verack,
    Version,
    decode_frame,
    decode_message,
    encode_message,
    message_command,
)
from tests.chain.helpers import mine

A = TypeVar("A")

PARAMS = REGTEST
GENESIS = REGTEST.genesis
SPACING = 600


def mine_chain(parent: BlockHeader, n: int, *, salt: int = 0,
               spacing: int = SPACING) -> list[BlockHeader]:
    """``n`` regtest headers on ``parent`` (about two hash tries each)."""
    out: list[BlockHeader] = []
    prev = parent
    for i in range(n):
        merkle = (salt.to_bytes(4, "little") + i.to_bytes(4, "little")) * 4
        h = mine(prev.hash, prev.time + spacing, prev.bits, merkle=merkle)
        out.append(h)
        prev = h
    return out


class SimChain(HeaderChain):
    """The real ``HeaderChain`` over a real store in a temporary directory (removed
    when the chain is collected), recording what entered it for the tests."""

    accepted: list[Node]
    expected_heights: list[int]

    @classmethod
    def create(cls, params: NetworkParams = PARAMS, *, window: int | None = None,
               directory: Path | None = None) -> SimChain:
        owned = directory is None
        path = Path(tempfile.mkdtemp(prefix="aureond-sim-")) if directory is None else directory
        chain = cls.open(params, path, fsync_policy=FsyncPolicy.manual(),
                         window=window if window is not None else DEFAULT_TREE_WINDOW)
        chain.accepted = []  # every header that ever entered the tree
        chain.expected_heights = []  # expect_height hints, in order
        weakref.finalize(chain, _cleanup, chain.store, path if owned else None)
        return chain

    def expect_height(self, height: int, now: float) -> None:
        self.expected_heights.append(height)
        super().expect_height(height, now)

    def add(self, raw_headers: bytes, now: int) -> AddResult:
        result = super().add(raw_headers, now)
        self.accepted.extend(result.connected if isinstance(result, TipChanged)
                             else result.added)
        return result

    def commit_fork(self, fork: ForkWriter) -> TipChanged:
        change = super().commit_fork(fork)
        self.accepted.extend(change.connected)
        return change


def _cleanup(store: HeaderStore, path: Path | None) -> None:
    with contextlib.suppress(Exception):
        store.close()
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


@dataclass(eq=False)
class SimPeer:
    """A scripted remote node serving ``chain`` (``chain[0]`` is genesis)."""

    address: PeerAddress
    chain: list[BlockHeader]
    version: int = 70016
    services: int = ServiceFlags.NODE_NETWORK | ServiceFlags.NODE_BLOOM
    start_height: int | None = None
    answers_getheaders: bool = True
    announce_with_inv: bool = False
    accepts: bool = True
    chatter: bool = True  # protoconf, authch, sendcmpct, sendheaders, feefilter
    garbage_after_verack: bytes | None = None
    clock_offset: int = 0  # its clock minus ours, as its version timestamp shows
    serve: Callable[[SimPeer, tuple[bytes, ...]], list[BlockHeader]] | None = None
    received: list[Message] = field(default_factory=list)
    wants_headers: bool = False
    _index: dict[bytes, int] = field(default_factory=dict)

    def height(self) -> int:
        return len(self.chain) - 1

    def index(self) -> dict[bytes, int]:
        if len(self._index) != len(self.chain):
            self._index = {h.hash: i for i, h in enumerate(self.chain)}
        return self._index

    def headers_after(self, locator: tuple[bytes, ...]) -> list[BlockHeader]:
        index = self.index()
        start = next((index[h] for h in locator if h in index), 0)
        return self.chain[start + 1:start + 1 + MAX_HEADERS_RESULTS]

    def on_message(self, msg: Message) -> list[Message | bytes]:
        self.received.append(msg)
        if isinstance(msg, Version):
            height = self.height() if self.start_height is None else self.start_height
            me = NetAddress.from_host("127.0.0.1", 18444)
            return [Version(self.version, self.services, msg.timestamp + self.clock_offset,
                            me, me,
                            0x5EED_0000 + self.address.port, "/Sim:1.0/",
                            height, True, b"\x00"),
                    Verack()]
        if isinstance(msg, Verack):
            out: list[Message | bytes] = []
            if self.chatter:
                out += [Protoconf(1, 2_097_152), Unknown("authch", b"\x01\x02"),
                        SendHeaders(), SendCmpct(False, 1), FeeFilter(250)]
            if self.garbage_after_verack is not None:
                out.append(self.garbage_after_verack)
            return out
        if isinstance(msg, Ping):
            return [Pong(msg.nonce)]
        if isinstance(msg, SendHeaders):
            self.wants_headers = True
            return []
        if isinstance(msg, GetHeaders):
            if not self.answers_getheaders:
                return []
            served = (self.serve(self, msg.locator) if self.serve is not None
                      else self.headers_after(msg.locator))
            return [Headers(tuple(served))]
        return []

    def extend(self, new: list[BlockHeader]) -> list[Message]:
        """Mine ``new`` on top and return the announcement to send."""
        self.chain.extend(new)
        if self.wants_headers and not self.announce_with_inv:
            return [Headers(tuple(new))]
        return [Inv(tuple(InvVector(InvType.BLOCK, h.hash) for h in new))]

    def reorg_to(self, chain: list[BlockHeader]) -> list[Message]:
        """Switch to ``chain``; announce the new branch above the fork point."""
        old = self.index()
        self.chain = list(chain)
        fork = next(i for i, h in enumerate(self.chain) if h.hash not in old) - 1
        return [Headers(tuple(self.chain[fork + 1:]))]


def make_node(chain: SimChain, addresses: Iterable[PeerAddress], *, seed: int = 1,
              target_outbound: int = 8, breakers: BreakerFactory | None = None,
              backoff: BackoffSchedule | None = None,
              ban_seconds: int = 3600) -> P2PProtocol:
    manager = PeerManager(addresses, breakers=breakers, backoff=backoff,
                          target_outbound=target_outbound)
    return P2PProtocol(chain, manager, SeededRandom(seed), ban_seconds=ban_seconds)


class SimNetwork:
    """Runs a ``P2PProtocol`` against ``SimPeer`` values on simulated time."""

    def __init__(self, node: P2PProtocol, peers: Iterable[SimPeer], *, start: float,
                 clock: FakeClock | None = None, seed: int = 0, latency: float = 0.05,
                 jitter: float = 0.0, loss: float = 0.0,
                 params: NetworkParams = PARAMS, tick: float = TICK_INTERVAL) -> None:
        self.node = node
        self.tick = tick
        self.params = params
        self.peers = {p.address: p for p in peers}
        self.now = start
        self.clock = clock
        self.latency = latency
        self.jitter = jitter
        self.loss = loss
        self._rng = random.Random(seed)
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = count()
        self._next_tick = start
        self.conns: dict[PeerId, SimPeer] = {}
        self._decoders: dict[PeerId, FrameDecoder] = {}
        self._fifo: dict[tuple[PeerId, bool], float] = {}
        self.actions: list[Action] = []
        self.events: list[Event] = []

    # --- scheduling ---------------------------------------------------------------

    def _at(self, when: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (when, next(self._seq), fn))

    def _delay(self, peer: PeerId, inbound: bool) -> float:
        d = self.latency + (self._rng.random() * self.jitter if self.jitter else 0.0)
        key = (peer, inbound)
        when = max(self.now + d, self._fifo.get(key, 0.0))
        self._fifo[key] = when
        return when

    def _advance(self, when: float) -> None:
        if when > self.now:
            if self.clock is not None:
                self.clock.advance(when - self.now)
            self.now = when

    def run(self, seconds: float, until: Callable[[], bool] | None = None) -> float:
        """Run for ``seconds`` of simulated time (or until ``until()``); returns now."""
        end = self.now + seconds
        while self.now <= end:
            if until is not None and until():
                break
            next_event = self._queue[0][0] if self._queue else end + 1
            if self._next_tick <= next_event:
                if self._next_tick > end:
                    break
                self._advance(self._next_tick)
                self._next_tick += self.tick
                self.deliver(Tick(self.now))
                continue
            if next_event > end:
                break
            _, _, fn = heapq.heappop(self._queue)
            self._advance(next_event)
            fn()
        return self.now

    # --- the driver's side ----------------------------------------------------------

    def deliver(self, event: Event) -> None:
        self.events.append(event)
        actions = self.node.handle(event)
        self.actions.extend(actions)
        for action in actions:
            self._execute(action)

    def _execute(self, action: Action) -> None:
        if isinstance(action, Send):
            self._send(action.peer, action.message)
        elif isinstance(action, Connect):
            self._connect(action.peer)
        elif isinstance(action, Disconnect):
            self._close(action.peer)
        elif isinstance(action, NeedAddresses):
            pass

    def _connect(self, peer: PeerId) -> None:
        remote = self.peers.get(peer.address)
        when = self.now + self.latency
        if remote is None or not remote.accepts:
            self._at(when, lambda: self.deliver(ConnectFailed(peer, "refused", self.now)))
            return

        def up() -> None:
            self.conns[peer] = remote
            self._decoders[peer] = FrameDecoder(self.params.magic, self.params.max_payload)
            self.deliver(PeerConnected(peer, self.now))
        self._at(when, up)

    def _close(self, peer: PeerId) -> None:
        self.conns.pop(peer, None)
        self._decoders.pop(peer, None)

    def _send(self, peer: PeerId, msg: Message) -> None:
        remote = self.conns.get(peer)
        if remote is None:
            return
        frame = encode_message(msg, self.params.magic,
                               max_payload=self.params.max_payload)
        decoded = decode_message(message_command(msg), frame[24:])
        if self.loss and self._rng.random() < self.loss:
            return

        def arrive() -> None:
            if self.conns.get(peer) is not remote:
                return
            for reply in remote.on_message(decoded):
                self.push(peer, reply, via=remote)
        self._at(self._delay(peer, False), arrive)

    def push(self, peer: PeerId, item: Message | bytes, *, via: SimPeer | None = None) -> None:
        """Send ``item`` (a message, or raw bytes) from the remote end of ``peer``."""
        remote = via if via is not None else self.conns.get(peer)
        data = item if isinstance(item, bytes) else encode_message(
            item, self.params.magic, max_payload=self.params.max_payload)

        def arrive() -> None:
            decoder = self._decoders.get(peer)
            if decoder is None or self.conns.get(peer) is not remote:
                return
            try:
                frames = decoder.feed(data)
            except RemoteProtocolError:
                self._close(peer)
                self.deliver(PeerDisconnected(peer, "protocol-error", self.now))
                return
            for frame in frames:
                if self.conns.get(peer) is not remote:
                    return
                self.deliver(MessageReceived(peer, decode_frame(frame), self.now))
        self._at(self._delay(peer, True), arrive)

    def announce(self, remote: SimPeer, messages: list[Message]) -> None:
        """``remote`` sends ``messages`` on each of its open connections."""
        for peer, r in list(self.conns.items()):
            if r is remote:
                for m in messages:
                    self.push(peer, m, via=remote)

    def kill(self, remote: SimPeer, reason: str = "reset") -> None:
        """``remote`` goes down: its connections end and it refuses new ones."""
        remote.accepts = False
        for peer, r in list(self.conns.items()):
            if r is remote:
                self._close(peer)
                self.deliver(PeerDisconnected(peer, reason, self.now))

    # --- observations -----------------------------------------------------------------

    def of_type(self, kind: type[A]) -> list[A]:
        return [a for a in self.actions if isinstance(a, kind)]

    def peer_of(self, remote: SimPeer) -> PeerId | None:
        return next((p for p, r in self.conns.items() if r is remote), None)
