"""Ping liveness: schedule, matching pongs, timeouts, answering their pings."""

from __future__ import annotations

from aureond.clock import SeededRandom
from aureond.p2p.actions import Disconnect, RequestCompleted, Send
from aureond.p2p.events import PeerId
from aureond.p2p.ping import PING_INTERVAL, PING_TIMEOUT, PingManager, PingState
from aureond.store.peers import PeerAddress
from aureond.wire import Ping, Pong

PEER = PeerId(1, PeerAddress("10.0.0.1", 8333))


def started(now: float = 0.0) -> tuple[PingManager, int]:
    pm = PingManager(SeededRandom(3))
    out = pm.add(PEER, now)
    assert len(out) == 1
    assert isinstance(out[0], Send)
    assert isinstance(out[0].message, Ping)
    return pm, out[0].message.nonce


def test_first_ping_is_immediate_with_a_nonzero_nonce() -> None:
    pm, nonce = started()
    assert nonce != 0
    assert pm.state_of(PEER) is PingState.AWAITING_PONG


def test_matching_pong_measures_rtt_and_schedules_the_next_ping() -> None:
    pm, nonce = started(10.0)
    assert pm.on_pong(PEER, Pong(nonce), 10.25) == [RequestCompleted(PEER, "ping", 0.25)]
    assert pm.state_of(PEER) is PingState.IDLE
    assert pm.tick(10.25 + PING_INTERVAL - 1) == []
    out = pm.tick(10.25 + PING_INTERVAL)
    assert len(out) == 1
    assert isinstance(out[0], Send)
    assert isinstance(out[0].message, Ping)
    assert out[0].message.nonce != nonce


def test_wrong_nonce_is_ignored_and_still_times_out() -> None:
    pm, nonce = started()
    assert pm.on_pong(PEER, Pong(nonce + 1), 1.0) == []
    assert pm.tick(PING_TIMEOUT - 0.1) == []
    assert pm.tick(PING_TIMEOUT) == [Disconnect(PEER, "ping-timeout")]
    assert pm.state_of(PEER) is None


def test_unsolicited_pong_is_ignored() -> None:
    pm, nonce = started()
    pm.on_pong(PEER, Pong(nonce), 1.0)
    assert pm.on_pong(PEER, Pong(nonce), 2.0) == []


def test_their_ping_is_answered_with_the_same_nonce() -> None:
    pm, _ = started()
    assert pm.on_ping(PEER, Ping(99)) == [Send(PEER, Pong(99))]


def test_removed_peer_is_never_pinged_again() -> None:
    pm, _ = started()
    pm.remove(PEER)
    assert pm.tick(10 * PING_INTERVAL) == []
