"""A real node stack for the scenarios: HeaderChain + P2PProtocol + P2PDriver.

Assembled the way the daemon does it, minus systemd and the peer book: the header
chain on a store in a scratch directory, a peer manager dialling the given loopback
addresses, the sans-I/O protocol core, and the asyncio driver. Between the driver and
the core sits a :class:`Recorder`, which passes every event through unchanged and
notes what the core decided (tip changes, rejections, disconnects and their reasons),
so a scenario can check the node's behaviour without looking inside it.

:class:`AcceleratedClock` lets timeouts that are minutes long on the real network
(a stalled ``getheaders`` is dropped after 60 s) happen in a bounded run: the node's
time runs ``speed`` times faster than real time, starting at the real wall time.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from aureond import __version__
from aureond.api.activity import RequestActivity
from aureond.api.readiness import assess_sync
from aureond.api.view import HeaderInfo, PeerInfo, SyncInfo, TipInfo
from aureond.chain.header import BlockHeader
from aureond.chain.params import NetworkParams
from aureond.clock import RandomSource
from aureond.monitoring.checks import evaluate_peers, evaluate_store, evaluate_sync
from aureond.monitoring.health import HealthDashboard, HealthReport
from aureond.p2p.actions import Action, Disconnect, HeadersRejected, RequestCompleted, TipUpdated
from aureond.p2p.driver import P2PDriver
from aureond.p2p.durable import DurableHeaders
from aureond.p2p.events import Event, MessageReceived, PeerDisconnected
from aureond.p2p.headerchain import HeaderChain
from aureond.p2p.manager import ConnState, PeerManager, capped_backoff
from aureond.p2p.node import P2PProtocol
from aureond.p2p.syncpeer import HEADERS_PER_STEP
from aureond.store.peers import PeerAddress
from aureond.store.policy import FsyncPolicy
from aureond.wire import Headers

__all__ = ["AcceleratedClock", "NodeStack", "Recorder", "StackView"]

_STOP_TIMEOUT = 5.0


class AcceleratedClock:
    """Real time, ``speed`` times faster, from the real wall time at construction."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._mono0 = time.monotonic()
        self._wall0 = time.time()

    def elapsed(self) -> float:
        return (time.monotonic() - self._mono0) * self.speed

    def monotonic(self) -> float:
        return self._mono0 + self.elapsed()

    def wall(self) -> float:
        return self._wall0 + self.elapsed()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


@dataclass(slots=True)
class PeerRecord:
    """What the node did with the connections to one address."""

    headers_messages: int = 0
    disconnects: Counter[str] = field(default_factory=Counter)
    rejections: Counter[str] = field(default_factory=Counter)


class Recorder:
    """The core behind the driver, with a record of its decisions (see module doc)."""

    def __init__(self, protocol: P2PProtocol, clock: AcceleratedClock,
                 durable: DurableHeaders) -> None:
        self.protocol = protocol
        self._clock = clock
        self._durable = durable
        self.by_address: dict[PeerAddress, PeerRecord] = {}
        self.request_seconds: list[float] = []
        """Real seconds from each ``getheaders`` to its answer."""
        self.tip_timeline: list[tuple[float, int]] = []
        """(``time.monotonic()``, tip height) at each tip change."""

    def record(self, address: PeerAddress) -> PeerRecord:
        rec = self.by_address.get(address)
        if rec is None:
            rec = self.by_address[address] = PeerRecord()
        return rec

    def handle(self, event: Event) -> list[Action]:
        if isinstance(event, MessageReceived) and isinstance(event.message, Headers):
            self.record(event.peer.address).headers_messages += 1
        elif isinstance(event, PeerDisconnected):
            self.record(event.peer.address).disconnects[event.reason] += 1
        actions = self.protocol.handle(event)
        for action in actions:
            if isinstance(action, Disconnect):
                self.record(action.peer.address).disconnects[action.reason] += 1
            elif isinstance(action, HeadersRejected):
                self.record(action.peer.address).rejections[action.reason] += 1
            elif isinstance(action, RequestCompleted):
                self.request_seconds.append(action.seconds / self._clock.speed)
            elif isinstance(action, TipUpdated):
                self.tip_timeline.append((time.monotonic(), action.result.tip.height))
                self._durable.note(len(action.result.connected))
        return actions


class StackView:
    """``NodeView`` over the stack, for the HTTP API (cheap synchronous reads)."""

    network: str
    version = __version__

    def __init__(self, stack: NodeStack) -> None:
        self._stack = stack
        self.network = stack.params.name
        self._started = stack.clock.monotonic()
        dashboard = HealthDashboard(stack.clock, service_id="aureond-stress",
                                    version=__version__)
        chain = stack.chain
        dashboard.register("sync", "blocksBehind", lambda: evaluate_sync(
            chain.tip_height, self.best_peer_height(), stack.clock.wall() - chain.tip_time))
        dashboard.register("peers", "connections",
                           lambda: evaluate_peers(self._connected()))
        dashboard.register("store", "writable", lambda: evaluate_store(True))
        self._dashboard = dashboard

    def _connected(self) -> int:
        return self._stack.protocol.manager.counts()[ConnState.ESTABLISHED]

    def uptime_seconds(self) -> float:
        return self._stack.clock.monotonic() - self._started

    def tip(self) -> TipInfo:
        c = self._stack.chain
        return TipInfo(c.tip_height, c.tip_hash, c.tip_chainwork, c.tip_time)

    def header_at(self, height: int) -> HeaderInfo | None:
        header = self._stack.chain.header_at(height)
        return None if header is None else HeaderInfo(header, height, True)

    def header_by_hash(self, block_hash: bytes) -> HeaderInfo | None:
        chain = self._stack.chain
        height = chain.height_of(block_hash)
        if height is not None:
            header = chain.header_at(height)
            return None if header is None else HeaderInfo(header, height, True)
        node = chain.tree.get(block_hash)
        return None if node is None else HeaderInfo(BlockHeader.parse(node.raw),
                                                     node.height, False)

    def best_peer_height(self) -> int | None:
        if self._connected() == 0:
            return None
        best = self._stack.protocol.sync.best_peer_height
        return best if best > 0 else None

    def sync(self) -> SyncInfo:
        stack = self._stack
        now = stack.clock.wall()
        status = stack.protocol.status(now)
        return assess_sync(tip_height=stack.chain.tip_height, tip_time=stack.chain.tip_time,
                           best_peer_height=self.best_peer_height(),
                           connected_peers=self._connected(), now=now,
                           progressing=status.sync_peer is not None)

    def peers(self) -> list[PeerInfo]:
        return []

    def health(self) -> HealthReport:
        return self._dashboard.evaluate()


class NodeStack:
    """The node, built and running; ``async with`` starts the driver and stops it."""

    def __init__(self, params: NetworkParams, directory: Path,
                 addresses: Iterable[PeerAddress], rng: RandomSource, *,
                 clock: AcceleratedClock, activity: RequestActivity | None = None) -> None:
        self.params = params
        self.clock = clock
        addresses = list(addresses)
        # As in the daemon: fsync is driven by DurableHeaders, and accepted headers
        # reach the store in chunks between other work on the loop.
        self.chain = HeaderChain.open(params, directory,
                                      fsync_policy=FsyncPolicy.manual())
        self.durable = DurableHeaders(self.chain, clock, headers_per_flush=2000,
                                      max_delay=5.0)
        self.manager = PeerManager(addresses, backoff=capped_backoff(1.0, 30.0),
                                   target_outbound=len(addresses))
        self.protocol = P2PProtocol(self.chain, self.manager, rng,
                                    headers_per_step=HEADERS_PER_STEP)
        self.recorder = Recorder(self.protocol, clock, self.durable)

        async def no_seeds() -> list[PeerAddress]:
            return []

        self.driver = P2PDriver(self.recorder, params, clock, connect_timeout=5.0,
                                resolver=no_seeds, backpressure=self.durable.wait_for_room,
                                give_way=activity.busy if activity is not None else None,
                                on_store_error=self.durable.fail)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> NodeStack:
        self._task = asyncio.create_task(self.driver.run(), name="stress-p2p")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        task, self._task = self._task, None
        try:
            if task is not None:
                task.cancel()
                # wait() does not raise the task's own cancellation; ours still propagates.
                await asyncio.wait({task}, timeout=_STOP_TIMEOUT)
        finally:
            try:
                await self.durable.close()
            finally:
                self.chain.close()

    async def wait_for_tip(self, block_hash: bytes, deadline: float) -> bool:
        """Poll until the chain's tip is ``block_hash`` or ``time.monotonic() > deadline``."""
        while self.chain.tip_hash != block_hash:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True
