"""The combined core: routing, the settle rules, self-connections, real mainnet data."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from aureond.chain.header import HEADER_SIZE, BlockHeader
from aureond.chain.params import MAINNET
from aureond.chain.target import work_from_bits
from aureond.p2p.actions import Disconnect, Send, SyncState
from aureond.p2p.events import MessageReceived, PeerConnected, PeerId, Tick
from aureond.p2p.node import P2PProtocol
from aureond.store.peers import PeerAddress
from aureond.wire import GetHeaders, Ping, Pong, Verack, Version
from tests.chain.helpers import read_run
from tests.p2p.sim import SimChain, SimNetwork, SimPeer, make_node

A = PeerAddress("10.0.0.1", 18444)


def connected(node: P2PProtocol, now: float = 0.0) -> tuple[PeerId, Version]:
    (connect,) = node.handle(Tick(now))[-1:]
    peer = connect.peer  # type: ignore[union-attr]
    out = node.handle(PeerConnected(peer, now))
    ours = out[0]
    assert isinstance(ours, Send)
    assert isinstance(ours.message, Version)
    return peer, ours.message


def test_a_connection_to_ourselves_is_detected_by_nonce() -> None:
    node = make_node(SimChain.create(), [A], target_outbound=1)
    node.manager.max_inbound = 1
    _, our_version = connected(node)
    in_peer = PeerId(-1, PeerAddress("127.0.0.1", 40000))
    assert node.handle(PeerConnected(in_peer, 0.1, inbound=True)) == []
    # Our outbound version arrives on our own inbound side.
    out = node.handle(MessageReceived(in_peer, our_version, 0.2))
    assert out == [Disconnect(in_peer, "self-connection")]


def test_nothing_is_sent_to_a_peer_after_its_disconnect() -> None:
    node = make_node(SimChain.create(), [A], target_outbound=1)
    peer, _ = connected(node)
    out = node.handle(MessageReceived(peer, Verack(), 1.0))  # verack before version
    assert out == [Disconnect(peer, "verack-before-version")]
    assert node.handle(MessageReceived(peer, Ping(1), 1.1)) == []
    assert node.peers() == []


def test_pings_are_answered_only_after_the_handshake() -> None:
    node = make_node(SimChain.create(), [A], target_outbound=1)
    peer, ours = connected(node)
    assert node.handle(MessageReceived(peer, Ping(5), 0.5)) == []
    node.handle(MessageReceived(peer, Version(70016, 1, 0, ours.receiver, ours.sender, 9,
                                              "/x/", 0), 0.6))
    node.handle(MessageReceived(peer, Verack(), 0.7))
    assert Send(peer, Pong(5)) in node.handle(MessageReceived(peer, Ping(5), 0.8))
    (summary,) = node.peers()
    assert (summary.version, summary.user_agent, summary.height) == (70016, "/x/", 0)


def _real_mainnet(data_dir: Path) -> tuple[list[BlockHeader], dict[str, int]]:
    raw, meta = read_run(data_dir, "mainnet_000000-010236")
    return [BlockHeader.parse(raw[o:o + HEADER_SIZE]) for o in range(0, len(raw), 80)], meta


def test_real_mainnet_headers_below_minimum_work_never_reach_the_store(
        data_dir: Path) -> None:
    headers, _ = _real_mainnet(data_dir)
    peer = SimPeer(PeerAddress("192.0.2.8", 8333), headers)
    chain = SimChain.create(MAINNET, window=3000)
    node = make_node(chain, [peer.address], target_outbound=1)
    net = SimNetwork(node, [peer], start=1_700_000_000.0, params=MAINNET)
    net.run(120, until=lambda: any(isinstance(a, Disconnect) for a in net.actions))
    # Every header was validated (presync), none was kept: 10,236 real headers are far
    # below mainnet's minimum chain work.
    requests = [a for a in net.actions
                if isinstance(a, Send) and isinstance(a.message, GetHeaders)]
    assert len(requests) == 6  # 5 full batches and a short one
    assert chain.tip_height == 0
    assert chain.store.tip_height == 0
    assert chain.accepted == []
    drops = [a for a in net.actions if isinstance(a, Disconnect)]
    assert [(d.reason, d.ban_seconds) for d in drops][:1] == [("low-work-chain", None)]
    assert node.status(net.now).state is not SyncState.SYNCED


def test_real_mainnet_headers_are_presynced_then_redownloaded_and_kept(
        data_dir: Path) -> None:
    headers, meta = _real_mainnet(data_dir)
    # A network whose minimum chain work is the real work at height 7,000.
    params = replace(MAINNET, minimum_chain_work=7001 * work_from_bits(0x1D00FFFF))
    peer = SimPeer(PeerAddress("192.0.2.8", 8333), headers)
    chain = SimChain.create(params, window=3000)
    node = make_node(chain, [peer.address], target_outbound=1)
    net = SimNetwork(node, [peer], start=1_700_000_000.0, params=params)
    net.run(120, until=lambda: chain.tip_height == meta["end_height"])
    assert chain.tip_height == 10236
    assert chain.tip_hash == headers[-1].hash
    assert chain.store.hash_at(5000) == headers[5000].hash
    locators = [a.message.locator for a in net.actions
                if isinstance(a, Send) and isinstance(a.message, GetHeaders)]
    # Presync: genesis, then 2,000, 4,000 and 6,000; the work is reached in the batch
    # ending at 8,000, so the redownload starts again from genesis.
    assert [loc[0] for loc in locators[1:5]] == [headers[h].hash
                                                 for h in (2000, 4000, 6000, 0)]
    assert not [a for a in net.actions if isinstance(a, Disconnect)]
