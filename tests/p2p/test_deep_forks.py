"""Deep forks and low-work floods, simulated on the real HeaderChain and store.

Each scenario provokes the failure it is named after: a heavier branch forking below
the in-memory window (which the node once refused for ever), a branch that is heavier
only in length but not in work, a peer serving a different chain on the redownload,
and a peer that keeps reconnecting with a fresh low-work flood.
"""

from __future__ import annotations

import dataclasses
from functools import cache

import pytest

from aureond.chain.header import BlockHeader
from aureond.chain.presync import REDOWNLOAD_BUFFER
from aureond.chain.target import work_from_bits
from aureond.p2p.actions import Action, Disconnect, TipUpdated
from aureond.p2p.events import Event, PeerConnected
from aureond.store.peers import PeerAddress
from aureond.wire import Headers
from tests.p2p.sim import GENESIS, PARAMS, SimChain, SimNetwork, SimPeer, make_node, mine_chain

A = PeerAddress("10.0.0.1", 18444)
B = PeerAddress("10.0.0.2", 18444)
#: The smallest window the tree takes on regtest: one retarget period and an MTP window.
WINDOW = 2027


@cache
def main_chain() -> tuple[BlockHeader, ...]:
    return (GENESIS, *mine_chain(GENESIS, 5000, salt=1))


@cache
def heavier_chain() -> tuple[BlockHeader, ...]:
    return (GENESIS, *mine_chain(GENESIS, 6000, salt=2, spacing=490))  # ends before main


def _following(peers: list[SimPeer], *, params: object = PARAMS,
               window: int = WINDOW) -> tuple[SimChain, SimNetwork]:
    chain = SimChain.create(params, window=window)  # type: ignore[arg-type]
    node = make_node(chain, [p.address for p in peers], target_outbound=len(peers))
    start = max(p.chain[-1].time for p in peers) + 60
    return chain, SimNetwork(node, peers, start=start, params=chain.params)


def test_a_heavier_fork_deeper_than_the_window_is_followed() -> None:
    a = SimPeer(A, list(main_chain()))
    chain, net = _following([a])
    net.run(120, until=lambda: chain.tip_height == 5000)
    assert chain.tip_hash == main_chain()[-1].hash
    assert chain.tree.base_height > 0  # the fork point, genesis, is only on disk now
    # The peer's node switches to a heavier chain forking at genesis and announces its
    # tip; the node asks, presyncs, redownloads and commits the branch.
    a.chain = list(heavier_chain())
    net.announce(a, [Headers((heavier_chain()[-1],))])
    net.run(300, until=lambda: chain.tip_height == 6000)
    assert chain.tip_hash == heavier_chain()[-1].hash
    assert chain.store.hash_at(1) == heavier_chain()[1].hash
    assert chain.store.hash_at(6000) == heavier_chain()[-1].hash
    reorgs = [t.result for t in net.of_type(TipUpdated) if t.result.reverted]
    assert len(reorgs) == 1
    assert (reorgs[0].depth, reorgs[0].fork_height, len(reorgs[0].connected)) == (5000, 0,
                                                                                   6000)
    assert not net.of_type(Disconnect)
    # No side file is left behind.
    assert not list(chain.store.directory.glob("fork-*.dat"))


def test_a_deep_branch_with_less_work_is_never_kept() -> None:
    a = SimPeer(A, list(main_chain()))
    chain, net = _following([a])
    net.run(120, until=lambda: chain.tip_height == 5000)
    # A branch forking 2,011 below our tip with 10 headers: presynced, found weaker,
    # forgotten; the peer stays (it is behind, not hostile).
    a.chain = [*main_chain()[:2990], *mine_chain(main_chain()[2989], 10, salt=4)]
    net.announce(a, [Headers((a.chain[-1],))])
    net.run(60)
    assert chain.tip_hash == main_chain()[-1].hash
    assert chain.store.tip_height == 5000
    assert not list(chain.store.directory.glob("fork-*.dat"))
    assert not [t for t in net.of_type(TipUpdated) if t.result.reverted]
    assert not net.of_type(Disconnect)


def test_a_redownload_that_differs_from_the_presync_drops_the_peer() -> None:
    a = SimPeer(A, list(main_chain()))
    chain, net = _following([a])
    net.run(120, until=lambda: chain.tip_height == 5000)
    a.chain = list(heavier_chain())
    other = (GENESIS, *mine_chain(GENESIS, 6000, salt=5, spacing=490))
    switched = False

    def serve(peer: SimPeer, locator: tuple[bytes, ...]) -> list[BlockHeader]:
        # The redownload (asked from the fork point alone) gets another chain.
        nonlocal switched
        switched = switched or locator == (GENESIS.hash,)
        source = other if switched else heavier_chain()
        index = {h.hash: i for i, h in enumerate(source)}
        start = next((index[h] for h in locator if h in index), 0)
        return list(source[start + 1:start + 2001])

    a.serve = serve
    net.announce(a, [Headers((heavier_chain()[-1],))])
    net.run(300, until=lambda: bool(net.of_type(Disconnect)))
    assert [d.reason for d in net.of_type(Disconnect)][:1] == ["presync-mismatch"]
    assert chain.tip_hash == main_chain()[-1].hash
    assert chain.store.tip_height == 5000
    assert not list(chain.store.directory.glob("fork-*.dat"))


def test_a_reconnecting_low_work_flood_stays_bounded_and_off_the_disk(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A network whose minimum chain work is 3,000 regtest headers' worth; the peer's
    # chain has 2,500: every connection floods it again, and none of it is kept.
    params = dataclasses.replace(PARAMS, minimum_chain_work=3001 * work_from_bits(
        PARAMS.genesis.bits))
    flood = SimPeer(A, list(main_chain()[:2501]))
    chain, net = _following([flood], params=params)
    peak = 0
    handle = net.node.handle

    def watched(event: Event) -> list[Action]:
        nonlocal peak
        out = handle(event)
        peak = max(peak, net.node.sync.presync_bytes())
        return out

    monkeypatch.setattr(net.node, "handle", watched)
    connections = 0
    for _ in range(4000):
        net.run(5)
        connections = sum(isinstance(e, PeerConnected) for e in net.events)
        if connections >= 21:
            break
    assert connections >= 21  # the first connection and 20 reconnections
    drops = net.of_type(Disconnect)
    assert len(drops) >= 20
    assert {(d.reason, d.ban_seconds) for d in drops} == {("low-work-chain", None)}
    # Nothing reached the store or the tree; a presync held at most its bound.
    assert (chain.store.tip_height, chain.tip_height, len(chain.tree)) == (0, 0, 1)
    assert chain.accepted == []
    assert 0 < peak <= 1024 + 2500 // 600 + 1 + 80 * REDOWNLOAD_BUFFER
    assert peak < 2048  # the presync phase holds no headers at all
