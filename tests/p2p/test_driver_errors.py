"""The driver's read loop when handling a message fails: an error of ours closes that
connection with a bounded reason and the node goes on; a store error stops the node.

A real driver, the real P2P core and header chain, and a loopback peer speaking the
real protocol; only the chain's ``add`` is made to fail, once. The fake clock drives
the ticks; the waits are for loopback I/O, each bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aureond.chain.params import REGTEST
from aureond.chain.tree import AddResult
from aureond.clock import FakeClock, SeededRandom
from aureond.errors import StoreError
from aureond.p2p.actions import Action, Connect
from aureond.p2p.driver import P2PDriver
from aureond.p2p.durable import DurableHeaders
from aureond.p2p.events import Event, PeerConnected, PeerDisconnected
from aureond.p2p.headerchain import HeaderChain
from aureond.p2p.manager import PeerManager
from aureond.p2p.node import P2PProtocol
from aureond.store import FsyncPolicy
from aureond.store.peers import PeerAddress
from aureond.stress.chaingen import mine_raw
from aureond.stress.fakepeer import Behaviour, FakePeer, ServedChain

SERVED = 20
WAIT = 10.0
"""Real seconds at most for a loopback exchange."""


@dataclass
class Recording:
    """The core, with the disconnect reasons it was told, the dials it asked for, and an
    event set by every event it handles."""

    protocol: P2PProtocol
    reasons: list[str] = field(default_factory=list)
    dials: int = 0
    connects: int = 0
    handled: asyncio.Event = field(default_factory=asyncio.Event)

    def handle(self, event: Event) -> list[Action]:
        if isinstance(event, PeerDisconnected):
            self.reasons.append(event.reason)
        elif isinstance(event, PeerConnected):
            self.connects += 1
        actions = self.protocol.handle(event)
        self.dials += sum(isinstance(a, Connect) for a in actions)
        self.handled.set()
        return actions

    async def until(self, done: Callable[[], bool]) -> None:
        """Wait (bounded, in real time) for ``done()`` after some event."""
        async with asyncio.timeout(WAIT):
            while not done():
                self.handled.clear()
                await self.handled.wait()


@dataclass
class Node:
    chain: HeaderChain
    core: Recording
    durable: DurableHeaders
    clock: FakeClock
    driver: P2PDriver
    task: asyncio.Task[None]


def _fail_first_add(chain: HeaderChain, error: Exception) -> None:
    real: Callable[[bytes, int], AddResult] = chain.add
    calls = 0

    def add(raw: bytes, now: int) -> AddResult:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise error
        return real(raw, now)

    chain.add = add  # type: ignore[method-assign, assignment]


@contextlib.asynccontextmanager
async def _node(tmp_path: Path, error: Exception) -> AsyncIterator[Node]:
    served = ServedChain(REGTEST.genesis)
    served.extend(mine_raw(REGTEST.genesis, SERVED)[0])
    peer = await FakePeer(REGTEST, served, Behaviour.HONEST, nonce=7).start()
    clock = FakeClock()
    chain = HeaderChain.open(REGTEST, tmp_path / "headers", fsync_policy=FsyncPolicy.manual())
    durable = DurableHeaders(chain, clock, headers_per_flush=2000, max_delay=5.0)
    _fail_first_add(chain, error)
    manager = PeerManager([PeerAddress("127.0.0.1", peer.port)], target_outbound=1)
    core = Recording(P2PProtocol(chain, manager, SeededRandom(3)))
    # Wired as the daemon wires it: a store error goes to DurableHeaders.fail.
    driver = P2PDriver(core, REGTEST, clock, on_store_error=durable.fail,
                       backpressure=durable.wait_for_room)
    task = asyncio.create_task(driver.run())
    try:
        yield Node(chain, core, durable, clock, driver, task)
    finally:
        task.cancel()
        await asyncio.wait({task}, timeout=WAIT)
        await peer.close()
        await durable.close()
        chain.close()


async def _first_disconnect(node: Node) -> str:
    await node.core.until(lambda: bool(node.core.reasons))
    return node.core.reasons[0]


async def test_an_error_handling_a_message_drops_the_peer_and_the_node_goes_on(
        tmp_path: Path) -> None:
    async with _node(tmp_path, RuntimeError("a bug in add")) as node:
        assert await _first_disconnect(node) == "internal-error"
        assert node.driver.connected_peers == []          # the slot is free at once
        assert not node.task.done()
        assert node.durable.failure is None
        assert node.durable.healthy
        # The node goes on: past the reconnect backoff it dials again and syncs.
        dials = node.core.dials
        for _ in range(600):
            if node.core.dials > dials:
                break
            node.clock.advance(1.0)
            await asyncio.sleep(0)
        assert node.core.dials > dials
        await node.core.until(lambda: node.chain.tip_height == SERVED)
        assert node.core.connects == 2
        assert node.core.reasons == ["internal-error"]


async def test_a_store_error_handling_a_message_stops_the_node(tmp_path: Path) -> None:
    error = StoreError("cannot read the header file")
    async with _node(tmp_path, error) as node:
        assert await _first_disconnect(node) == "store-error"
        # The daemon's stop path: it raises DurableHeaders.failure from its
        # housekeeping, and `aureond run` exits with the store error code (4).
        assert node.durable.failure is error
        assert not node.durable.healthy
        assert node.driver.connected_peers == []
