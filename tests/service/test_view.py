"""``DaemonView``: the HTTP API's window on the live node, over real components (a real
header store in a temporary directory, the real sans-I/O P2P core fed events, a real
peer book and health dashboard) on a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aureond import __version__
from aureond.api.readiness import DEFAULT_STALE_AFTER
from aureond.chain.params import REGTEST
from aureond.clock import FakeClock, SeededRandom
from aureond.monitoring.checks import evaluate_peers, evaluate_sync
from aureond.monitoring.health import HealthDashboard, HealthStatus
from aureond.p2p.actions import Connect, Send, SyncState
from aureond.p2p.events import MessageReceived, PeerConnected, PeerId, Tick
from aureond.p2p.headerchain import HeaderChain
from aureond.p2p.manager import PeerManager
from aureond.p2p.node import P2PProtocol
from aureond.resilience import BreakerConfig, CircuitBreaker
from aureond.service.view import DaemonView
from aureond.store.peers import PeerAddress, PeerBook
from aureond.stress.chaingen import extend
from aureond.wire import Verack, Version

PEER = PeerAddress("127.0.0.1", 18444)
TIP = 12
STARTED = 1_000.0


@dataclass
class Node:
    view: DaemonView
    chain: HeaderChain
    protocol: P2PProtocol
    peerbook: PeerBook
    clock: FakeClock
    connected_at: dict[int, float]


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    headers = extend(REGTEST.genesis, TIP)
    # Wall time one minute after the tip: a fresh tip, as on a live chain.
    clock = FakeClock(start=STARTED, wall_offset=headers[-1].time + 60 - STARTED)
    chain = HeaderChain.open(REGTEST, tmp_path / "headers")
    chain.add(b"".join(h.serialize() for h in headers), int(clock.wall()))
    peerbook = PeerBook.open(tmp_path / "peers.json", clock=clock)

    def breaker(name: str) -> CircuitBreaker:
        return CircuitBreaker(name, clock, BreakerConfig(failure_threshold=1))

    manager = PeerManager([PEER], bans=peerbook, breakers=breaker, target_outbound=1)
    protocol = P2PProtocol(chain, manager, SeededRandom(7))
    dashboard = HealthDashboard(clock, version=__version__)
    connected_at: dict[int, float] = {}
    view = DaemonView(network=REGTEST.name, chain=chain, protocol=protocol,
                      peerbook=peerbook, dashboard=dashboard, clock=clock,
                      breaker_of=manager.breaker_of, connected_at=connected_at,
                      started=STARTED)
    dashboard.register("peers", "connections", lambda: evaluate_peers(view.connected_peers()))
    try:
        yield Node(view, chain, protocol, peerbook, clock, connected_at)
    finally:
        chain.close()


def _handshake(node: Node, start_height: int, agent: str = "/ref:1.0/") -> PeerId:
    """Dial the configured peer and complete the handshake announcing ``start_height``."""
    now = node.clock.wall()
    (connect,) = [a for a in node.protocol.handle(Tick(now)) if isinstance(a, Connect)]
    peer = connect.peer
    (ours,) = [a.message for a in node.protocol.handle(PeerConnected(peer, now))
               if isinstance(a, Send)]
    assert isinstance(ours, Version)
    theirs = Version(70016, 1, int(now), ours.receiver, ours.sender, 99, agent, start_height)
    node.protocol.handle(MessageReceived(peer, theirs, now))
    node.protocol.handle(MessageReceived(peer, Verack(), now))
    node.connected_at[peer.slot] = now
    return peer


def test_tip_and_headers_come_from_the_store(node: Node) -> None:
    tip = node.view.tip()
    assert (tip.height, tip.hash, tip.chainwork, tip.time) == (
        TIP, node.chain.tip_hash, node.chain.tip_chainwork, node.chain.tip_time)
    five = node.view.header_at(5)
    assert five is not None
    assert (five.height, five.on_best_chain) == (5, True)
    by_hash = node.view.header_by_hash(five.header.hash)
    assert by_hash == five
    assert node.view.header_at(TIP + 1) is None
    assert node.view.header_by_hash(bytes(32)) is None
    assert (node.view.network, node.view.version) == ("regtest", __version__)


def test_a_side_branch_header_is_found_off_the_best_chain(node: Node) -> None:
    fork_parent = node.chain.header_at(TIP - 2)
    assert fork_parent is not None
    (side,) = extend(fork_parent, 1, salt=9)
    node.chain.add(side.serialize(), int(node.clock.wall()))
    found = node.view.header_by_hash(side.hash)
    assert found is not None
    assert (found.height, found.on_best_chain, found.header) == (TIP - 1, False, side)
    assert node.view.tip().height == TIP


def test_without_peers_nothing_is_claimed(node: Node) -> None:
    assert node.view.connected_peers() == 0
    assert node.view.best_peer_height() is None
    sync = node.view.sync()
    assert (sync.state, sync.ready, sync.reasons) == (SyncState.CONNECTING, False,
                                                      ("no connected peer",))
    assert sync.progress is None  # unknown, not 100 % of a height nobody told us
    (idle,) = node.view.peers()
    assert (idle.address, idle.state, idle.breaker, idle.ban_reason) == (
        str(PEER), "idle", "closed", None)
    assert node.view.health().status is HealthStatus.UNHEALTHY


def test_a_peer_ahead_means_initial_sync(node: Node) -> None:
    peer = _handshake(node, TIP + 500)
    assert node.view.connected_peers() == 1
    assert node.view.best_peer_height() == TIP + 500
    sync = node.view.sync()
    assert sync.state is SyncState.INITIAL_SYNC
    assert not sync.ready
    assert sync.progress == pytest.approx(TIP / (TIP + 500))
    assert sync.reasons == (f"tip {TIP} is 500 blocks behind the best peer height "
                            f"{TIP + 500}",)
    (info,) = node.view.peers()
    assert (info.slot, info.address, info.state, info.user_agent, info.start_height) == (
        peer.slot, str(PEER), "established", "/ref:1.0/", TIP + 500)
    assert info.connected_since == node.clock.wall()
    assert node.view.health().status is HealthStatus.HEALTHY


def test_a_peer_at_our_height_means_synced(node: Node) -> None:
    _handshake(node, TIP)
    sync = node.view.sync()
    assert (sync.state, sync.ready, sync.progress) == (SyncState.SYNCED, True, 1.0)


def test_a_tip_past_three_block_intervals_is_still_ready(node: Node) -> None:
    """The core's stale-tip detector fires after three block intervals (it asks every
    peer again); what the node reports goes stale only after the 2 h rule."""
    _handshake(node, TIP)
    node.clock.advance(45 * 60.0)
    assert node.protocol.status(node.clock.wall()).tip_stale
    sync = node.view.sync()
    assert (sync.state, sync.ready) == (SyncState.SYNCED, True)
    node.clock.advance(DEFAULT_STALE_AFTER - 45 * 60.0)
    assert node.view.sync().state is SyncState.STALLED
    assert evaluate_sync(TIP, node.view.best_peer_height(),
                         node.clock.wall() - node.chain.tip_time).status is (
        HealthStatus.DEGRADED)


def test_a_peer_at_genesis_has_no_height_to_report(node: Node) -> None:
    _handshake(node, 0)
    assert node.view.connected_peers() == 1
    assert node.view.best_peer_height() is None
    assert node.view.sync().state is SyncState.INITIAL_SYNC
    assert node.view.sync().progress is None


def test_a_banned_peer_shows_its_ban(node: Node) -> None:
    now = node.clock.wall()
    node.peerbook.ban(PEER, "bad-headers", 3600)
    (info,) = node.view.peers()
    assert info.ban_reason == "bad-headers"
    assert info.ban_expires == pytest.approx(now + 3600)


def test_uptime_follows_the_monotonic_clock(node: Node) -> None:
    assert node.view.uptime_seconds() == 0.0
    node.clock.advance(42.5)
    assert node.view.uptime_seconds() == 42.5
