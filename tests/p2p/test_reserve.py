"""A peer's claimed start height sizes the on-disk hash table only once the peer has
backed it with headers, and never beyond what the clock allows.

The node is the real P2P core over a real ``HeaderChain`` in a temporary directory (so
``hashidx.dat`` is the file a running node would grow); the peers are the simulation's
scripted peers (``tests.p2p.sim``) on simulated time.
"""

from __future__ import annotations

from pathlib import Path

from aureond.clock import SeededRandom
from aureond.p2p.actions import Disconnect, HandshakeCompleted
from aureond.p2p.headerchain import RESERVE_PACE, RESERVE_SLACK, HeaderChain
from aureond.p2p.manager import PeerManager
from aureond.p2p.node import P2PProtocol
from aureond.store.peers import PeerAddress
from aureond.wire import MAX_HEADERS_RESULTS
from tests.p2p.sim import GENESIS, PARAMS, SPACING, SimNetwork, SimPeer, mine_chain

LIAR = PeerAddress("10.0.0.1", 18444)
CLAIM = 2_000_000_000
MIB = 1 << 20


def _node(chain: HeaderChain, address: PeerAddress) -> P2PProtocol:
    return P2PProtocol(chain, PeerManager([address], target_outbound=1), SeededRandom(1))


def _claims(net: SimNetwork) -> list[int]:
    return [a.start_height for a in net.of_type(HandshakeCompleted)]


def test_a_huge_claim_without_a_header_leaves_the_hash_table_small(tmp_path: Path) -> None:
    start = float(GENESIS.time + 3600)
    chain = HeaderChain.open(PARAMS, tmp_path)
    table = tmp_path / "hashidx.dat"
    before = table.stat().st_size
    liar = SimPeer(LIAR, [GENESIS], start_height=CLAIM, answers_getheaders=False)
    net = SimNetwork(_node(chain, LIAR), [liar], start=start)
    net.run(200.0)
    assert len(_claims(net)) >= 2  # the claim was made, and heard, on each connection
    assert set(_claims(net)) == {CLAIM}
    drops = {a.reason for a in net.of_type(Disconnect)}
    assert drops == {"headers-timeout"}  # it stalled and was dropped, more than once
    chain.flush()  # what the node's durable writer does every few seconds
    assert chain.tip_height == 0
    assert table.stat().st_size == before < MIB
    chain.close()


def test_a_claim_backed_by_headers_is_sized_as_far_as_the_clock_allows(
        tmp_path: Path) -> None:
    served = [GENESIS, *mine_chain(GENESIS, 2500, salt=3, spacing=SPACING)]
    start = float(served[-1].time + 3600)
    chain = HeaderChain.open(PARAMS, tmp_path)
    reserved: list[int] = []
    original = chain.store.reserve

    def spy(records: int) -> bool:
        reserved.append(records)
        return original(records)

    chain.store.reserve = spy  # type: ignore[method-assign]
    peer = SimPeer(LIAR, served, start_height=CLAIM)
    net = SimNetwork(_node(chain, LIAR), [peer], start=start, latency=0.01)
    net.run(30.0, until=lambda: chain.tip_height == 2500)
    assert chain.tip_height == 2500
    # Sized once, after the first full batch, for what a real chain can have reached
    # from that batch's tip by now: not for the two billion claimed.
    first_tip = served[MAX_HEADERS_RESULTS]
    elapsed = int(start - first_tip.time) // SPACING  # the batch arrives within a second
    cap = MAX_HEADERS_RESULTS + RESERVE_SLACK + RESERVE_PACE * elapsed
    assert reserved == [cap + 1]
    assert (tmp_path / "hashidx.dat").stat().st_size < MIB
    assert chain.height_of(served[2400].hash) == 2400
    chain.close()
