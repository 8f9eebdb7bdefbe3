"""A wrong clock, ours or a peer's, on the real HeaderChain and store.

Bitcoin Core never punishes a header for being too far in the future: it is not kept,
and it is asked for again later. Our clock only keeps such headers out for a while; it
bans no one and never judges stored headers again when the store opens.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from aureond.chain.header import BlockHeader
from aureond.p2p.actions import Disconnect, HandshakeCompleted, HeadersRejected, Send
from aureond.p2p.syncpeer import FUTURE_RETRY
from aureond.p2p.timeoffsets import TimeOffsets
from aureond.store.peers import PeerAddress
from aureond.wire import GetHeaders
from tests.chain.helpers import mine
from tests.p2p.sim import GENESIS, PARAMS, SimChain, SimNetwork, SimPeer, make_node, mine_chain

A = PeerAddress("10.0.0.1", 18444)
HOUR = 3600
LIMIT = PARAMS.max_future_seconds  # two hours


@cache
def chain_of(n: int = 600) -> tuple[BlockHeader, ...]:
    return (GENESIS, *mine_chain(GENESIS, n))


def _net(peer: SimPeer, start: float, chain: SimChain | None = None
         ) -> tuple[SimChain, SimNetwork]:
    chain = chain if chain is not None else SimChain.create()
    node = make_node(chain, [peer.address], target_outbound=1)
    return chain, SimNetwork(node, [peer], start=start)


def test_a_future_dated_announcement_is_neither_kept_nor_punished_and_asked_again() -> None:
    peer = SimPeer(A, list(chain_of()))
    start = chain_of()[-1].time + 60
    chain, net = _net(peer, start)
    net.run(60, until=lambda: chain.tip_height == 600)
    assert chain.tip_height == 600
    # The peer mines a header three hours ahead of our clock and announces it.
    ahead = mine(chain_of()[-1].hash, int(net.now) + 3 * HOUR, chain_of()[-1].bits)
    net.announce(peer, peer.extend([ahead]))
    net.run(5)
    assert chain.tip_height == 600
    assert not chain.contains(ahead.hash)
    assert [r.reason for r in net.of_type(HeadersRejected)] == ["time-too-new"]
    assert not net.of_type(Disconnect)
    # An hour later it is within the limit: the next retry takes it.
    asked = len([a for a in net.actions if isinstance(a, Send)
                 and isinstance(a.message, GetHeaders)])
    net.run(HOUR + 2 * FUTURE_RETRY, until=lambda: chain.tip_height == 601)
    assert chain.tip_hash == ahead.hash
    assert len([a for a in net.actions if isinstance(a, Send)
                and isinstance(a.message, GetHeaders)]) > asked
    assert not net.of_type(Disconnect)


def test_our_clock_three_hours_slow_keeps_the_newest_hour_out_and_bans_no_one() -> None:
    peer = SimPeer(A, list(chain_of()), clock_offset=3 * HOUR)
    real_now = chain_of()[-1].time + 60
    chain, net = _net(peer, real_now - 3 * HOUR)  # our clock: three hours behind
    net.run(120)
    # Every header up to our clock + 2 h is kept; the last hour's are not (yet).
    newest_ok = max(i for i, h in enumerate(chain_of()) if h.time <= net.now + LIMIT)
    assert 0 < newest_ok < 600
    assert chain.tip_height == newest_ok
    assert not net.of_type(Disconnect)
    assert {r.reason for r in net.of_type(HeadersRejected)} == {"time-too-new"}
    (hello,) = net.of_type(HandshakeCompleted)
    assert abs(hello.clock_offset - 3 * HOUR) < 1
    # As our clock moves on, the rest arrives through the retries.
    net.run(2 * HOUR, until=lambda: chain.tip_height == 600)
    assert chain.tip_height == 600
    assert not net.of_type(Disconnect)


def test_our_clock_three_hours_fast_syncs_everything_and_reports_the_offset() -> None:
    peer = SimPeer(A, list(chain_of()), clock_offset=-3 * HOUR)
    chain, net = _net(peer, chain_of()[-1].time + 3 * HOUR)
    net.run(120, until=lambda: chain.tip_height == 600)
    assert chain.tip_height == 600
    (hello,) = net.of_type(HandshakeCompleted)
    offsets = TimeOffsets()
    offsets.add(str(A), hello.clock_offset)
    assert abs((offsets.median() or 0) + 3 * HOUR) < 1


def test_a_restart_with_the_clock_three_hours_back_or_ahead_opens_the_store(
        tmp_path: Path) -> None:
    # Headers stored while the clock was right; the node restarts with a clock three
    # hours slow (its newest headers are then more than two hours "in the future") or
    # three hours fast. The store is never judged by the clock: both runs go on.
    peer = SimPeer(A, list(chain_of()))
    right = chain_of()[-1].time + 60
    chain, net = _net(peer, right, SimChain.create(directory=tmp_path))
    net.run(60, until=lambda: chain.tip_height == 600)
    chain.close()
    for skew in (-3 * HOUR, 3 * HOUR):
        again = SimChain.create(directory=tmp_path)
        assert (again.tip_height, again.tip_hash) == (600, chain_of()[-1].hash)
        more = mine_chain(chain_of()[-1], 3, salt=skew & 0xFF)
        peer2 = SimPeer(A, [*chain_of(), *more] if skew > 0 else list(chain_of()))
        _, net2 = _net(peer2, right + skew, again)
        net2.run(60)
        assert not net2.of_type(Disconnect)
        assert again.tip_height == (603 if skew > 0 else 600)
        again.close()
