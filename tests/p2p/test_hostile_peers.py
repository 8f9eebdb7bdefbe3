"""Peers that waste our time, next to an honest one, on the real HeaderChain and store:
a sync peer whose answers never connect, one that replays what we have, one that
claims more than it has. None of them may stall, pin or mislead the node."""

from __future__ import annotations

from functools import cache

from aureond.chain.header import BlockHeader
from aureond.p2p.actions import Disconnect, HandshakeCompleted, Send, SyncState
from aureond.p2p.wasters import MAX_USELESS
from aureond.store.peers import PeerAddress
from aureond.wire import GetHeaders, Headers
from tests.p2p.sim import GENESIS, SimChain, SimNetwork, SimPeer, make_node, mine_chain

A = PeerAddress("10.0.0.1", 18444)
B = PeerAddress("10.0.0.2", 18444)


@cache
def trunk() -> tuple[BlockHeader, ...]:
    return (GENESIS, *mine_chain(GENESIS, 5000, salt=11))


@cache
def elsewhere() -> tuple[BlockHeader, ...]:
    """2,000 valid headers on a parent nobody has: they never connect."""
    orphan_parent = mine_chain(GENESIS, 1, salt=12)[0]
    return tuple(mine_chain(orphan_parent, 2000, salt=13))


def _net(peers: list[SimPeer]) -> tuple[SimChain, SimNetwork]:
    chain = SimChain.create()
    node = make_node(chain, [p.address for p in peers], target_outbound=len(peers))
    return chain, SimNetwork(node, peers, start=trunk()[-1].time + 60)


def _sync_time(peers: list[SimPeer]) -> tuple[float, SimChain, SimNetwork]:
    chain, net = _net(peers)
    start = net.now
    net.run(1200, until=lambda: chain.tip_height == 5000)
    return net.now - start, chain, net


def _getheaders_to(net: SimNetwork, address: PeerAddress) -> int:
    return sum(1 for a in net.actions if isinstance(a, Send) and a.peer.address == address
               and isinstance(a.message, GetHeaders))


def test_a_sync_peer_whose_answers_never_connect_is_replaced_at_once() -> None:
    honest_only, _, _ = _sync_time([SimPeer(B, list(trunk()))])
    staller = SimPeer(A, list(trunk()[:2]), start_height=9000,
                      serve=lambda _peer, _locator: list(elsewhere()))
    with_staller, chain, net = _sync_time([staller, SimPeer(B, list(trunk()))])
    assert chain.tip_hash == trunk()[-1].hash
    assert with_staller <= 2 * honest_only + 1.0, (with_staller, honest_only)
    # Its claim is forgotten: the node is synced, not "10,000 blocks behind".
    status = net.node.status(net.now)
    assert (status.state, status.best_peer_height) == (SyncState.SYNCED, 5000)
    assert not [d for d in net.of_type(Disconnect) if d.ban_seconds]


def test_a_peer_replaying_known_headers_is_not_asked_again_then_dropped_then_banned() -> None:
    batch = list(trunk()[1:2001])
    replayer = SimPeer(A, list(trunk()), serve=lambda _peer, _locator: batch)
    chain, net = _net([SimPeer(B, list(trunk())), replayer])
    net.run(60, until=lambda: chain.tip_height == 5000)
    net.run(60)
    # Its one answer of known headers ends the exchange: no loop of requests.
    assert _getheaders_to(net, A) <= 2
    # Pushed at us unasked, over and over: dropped, and banned when it comes back.
    for _ in range(2):
        net.run(120, until=lambda: net.peer_of(replayer) is not None)
        for _ in range(MAX_USELESS):
            net.announce(replayer, [Headers(tuple(batch))])
            net.run(1)
    drops = [d for d in net.of_type(Disconnect) if d.peer.address == A]
    assert [d.reason for d in drops] == ["useless-headers", "useless-headers"]
    assert drops[0].ban_seconds is None
    assert drops[1].ban_seconds is not None
    assert chain.tip_hash == trunk()[-1].hash


def test_a_peer_claiming_more_than_it_has_does_not_keep_the_node_behind() -> None:
    # It claims ten blocks more than anyone has and never answers getheaders.
    liar = SimPeer(A, list(trunk()), start_height=5010, answers_getheaders=False)
    chain, net = _net([liar, SimPeer(B, list(trunk()))])
    net.run(120, until=lambda: chain.tip_height == 5000)
    net.run(120, until=lambda: any(d.reason == "headers-timeout"
                                   for d in net.of_type(Disconnect)))
    assert [d.reason for d in net.of_type(Disconnect)] == ["headers-timeout"]
    # It comes back claiming the same: not believed, so the node is synced, not behind.
    def handshakes() -> int:
        return sum(1 for h in net.of_type(HandshakeCompleted) if h.peer.address == A)

    net.run(300, until=lambda: handshakes() == 2)
    assert handshakes() == 2
    status = net.node.status(net.now)
    assert (status.state, status.best_peer_height) == (SyncState.SYNCED, 5000)
