"""``NodeObserver``'s log lines over real parts (a header store, the sans-I/O core, a
peer book, metrics) on a fake clock: what a person reads during the initial sync."""

from __future__ import annotations

from collections.abc import AsyncIterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from aureond.chain.params import REGTEST
from aureond.chain.tree import TipChanged
from aureond.clock import FakeClock, SeededRandom
from aureond.monitoring.error_rate import ErrorRateTracker
from aureond.monitoring.latency import LatencyTracker
from aureond.monitoring.prometheus import NodeMetrics
from aureond.monitoring.throughput import ThroughputTracker
from aureond.p2p.actions import Connect, Send, SyncState, SyncStateChanged, TipUpdated
from aureond.p2p.durable import DurableHeaders
from aureond.p2p.events import MessageReceived, PeerConnected, Tick
from aureond.p2p.headerchain import HeaderChain
from aureond.p2p.manager import PeerManager
from aureond.p2p.node import P2PProtocol
from aureond.service.observe import PROGRESS_LOG_INTERVAL, NodeObserver
from aureond.store.peers import PeerAddress, PeerBook
from aureond.stress.chaingen import extend
from aureond.wire import Verack, Version

PEER = PeerAddress("127.0.0.1", 18444)
HEIGHT = 1000
BATCH = 100


@dataclass
class Node:
    chain: HeaderChain
    protocol: P2PProtocol
    observer: NodeObserver
    clock: FakeClock
    durable: DurableHeaders


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    clock = FakeClock()
    chain = HeaderChain.open(REGTEST, tmp_path / "headers")
    protocol = P2PProtocol(chain, PeerManager([PEER], target_outbound=1), SeededRandom(3))
    durable = DurableHeaders(chain, clock, headers_per_flush=10_000, max_delay=60.0)
    observer = NodeObserver(
        metrics=NodeMetrics(CollectorRegistry(), version="test", network=REGTEST.name),
        errors=ErrorRateTracker(clock), latency=LatencyTracker(clock),
        headers=ThroughputTracker(clock, "headers"),
        peerbook=PeerBook.open(tmp_path / "peers.json", clock=clock), protocol=protocol,
        clock=clock, durable=durable)
    try:
        yield Node(chain, protocol, observer, clock, durable)
    finally:
        await durable.close()
        chain.close()


def _peer_at(node: Node, height: int) -> None:
    """The peer dials in, completes the handshake and announces ``height``."""
    now = node.clock.wall()
    (connect,) = [a for a in node.protocol.handle(Tick(now)) if isinstance(a, Connect)]
    (ours,) = [a.message for a in node.protocol.handle(PeerConnected(connect.peer, now))
               if isinstance(a, Send)]
    assert isinstance(ours, Version)
    theirs = Version(70016, 1, int(now), ours.receiver, ours.sender, 99, "/ref:1/", height)
    node.protocol.handle(MessageReceived(connect.peer, theirs, now))
    node.protocol.handle(MessageReceived(connect.peer, Verack(), now))


def _sync(node: Node, count: int, step: float) -> None:
    """``count`` headers arrive in batches of ``BATCH``, ``step`` seconds apart."""
    headers = extend(REGTEST.genesis, count)
    for start in range(0, count, BATCH):
        raw = b"".join(h.serialize() for h in headers[start:start + BATCH])
        result = node.chain.add(raw, int(node.clock.wall()))
        assert isinstance(result, TipChanged)
        node.observer(TipUpdated(result))
        node.clock.advance(step)


def _events(logs: list[MutableMapping[str, Any]], name: str) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == name]


async def test_the_last_tip_logged_before_synced_is_the_synced_height(node: Node) -> None:
    _peer_at(node, HEIGHT)
    with capture_logs() as logs:
        _sync(node, HEIGHT, step=0.05)  # the whole sync inside one progress interval
        node.observer(SyncStateChanged(SyncState.SYNCED, 1.0))
    assert [(e["event"], e["height"]) for e in logs if e["event"] != "p2p.connected"] == [
        ("chain.tip", BATCH), ("chain.tip", HEIGHT), ("sync.state", HEIGHT)]
    (synced,) = _events(logs, "sync.state")
    assert synced == {"event": "sync.state", "log_level": "info", "state": "synced",
                      "height": HEIGHT, "best_peer_height": HEIGHT, "progress": 1.0}


async def test_progress_lines_are_spaced_and_the_end_is_not_repeated(node: Node) -> None:
    _peer_at(node, HEIGHT)
    with capture_logs() as logs:
        _sync(node, HEIGHT, step=PROGRESS_LOG_INTERVAL / 2)
        node.observer(SyncStateChanged(SyncState.SYNCED, 1.0))
    tips = [e["height"] for e in _events(logs, "chain.tip")]
    assert tips == [100, 300, 500, 700, 900, 1000]
    assert _events(logs, "sync.state")[0]["height"] == HEIGHT


async def test_a_tip_logged_already_is_not_logged_again(node: Node) -> None:
    with capture_logs() as logs:
        _sync(node, BATCH, step=0.0)
        node.observer(SyncStateChanged(SyncState.SYNCED, 1.0))
    assert [e["event"] for e in logs] == ["chain.tip", "sync.state"]


async def test_without_a_peer_height_progress_is_unknown(node: Node) -> None:
    with capture_logs() as logs:
        node.observer(SyncStateChanged(SyncState.CONNECTING, 0.0))
        _peer_at(node, 0)  # a peer that announces nothing
        node.observer(SyncStateChanged(SyncState.SYNCED, 1.0))
    states = _events(logs, "sync.state")
    assert [(e["state"], e["height"], e["best_peer_height"], e["progress"])
            for e in states] == [("no-peers", 0, None, None), ("synced", 0, None, None)]
    assert [e["best_peer_height"] for e in _events(logs, "chain.tip")] == []
