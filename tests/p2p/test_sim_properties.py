"""Property: whatever the latencies and event interleaving, honest peers converge us on
the most-work chain, and nothing is ever banned."""

from __future__ import annotations

from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aureond.chain.header import BlockHeader
from aureond.p2p.actions import Disconnect
from aureond.store.peers import PeerAddress
from tests.p2p.sim import GENESIS, SimChain, SimNetwork, SimPeer, make_node, mine_chain

TRUNK = 120


@cache
def trunk() -> tuple[BlockHeader, ...]:
    return (GENESIS, *mine_chain(GENESIS, TRUNK, salt=3))


@cache
def branch(fork: int, length: int, salt: int) -> tuple[BlockHeader, ...]:
    return tuple(mine_chain(trunk()[fork], length, salt=1000 + salt))


peer_spec = st.tuples(st.integers(0, TRUNK), st.integers(0, 60))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=st.lists(peer_spec, min_size=1, max_size=4), seed=st.integers(0, 2**16),
       jitter=st.floats(0.0, 3.0), target=st.integers(1, 4))
def test_honest_peers_converge_on_the_most_work_chain(
        specs: list[tuple[int, int]], seed: int, jitter: float, target: int) -> None:
    chains = [[*trunk()[:fork + 1], *branch(fork, length, i)]
              for i, (fork, length) in enumerate(specs)]
    peers = [SimPeer(PeerAddress(f"10.0.0.{i + 1}", 18444), c) for i, c in enumerate(chains)]
    best = max(len(c) for c in chains) - 1
    chain = SimChain.create()
    node = make_node(chain, [p.address for p in peers], seed=seed, target_outbound=target)
    start = max(c[-1].time for c in chains) + 60
    net = SimNetwork(node, peers, start=start, seed=seed, jitter=jitter, tick=5.0)
    # Eventually: a peer set that knows less is found out by the stale-tip check.
    net.run(3 * 3600, until=lambda: chain.tip_height == best and net.node.sync.sync_peer is None)
    assert chain.tip_height == best
    # Equal work keeps the first seen: the tip is one of the longest chains' tips.
    assert chain.tip_hash in {c[-1].hash for c in chains if len(c) - 1 == best}
    assert not [a for a in net.actions if isinstance(a, Disconnect) and a.ban_seconds]
    good = {h.hash for c in chains for h in c}
    assert all(n.hash in good for n in chain.accepted)
