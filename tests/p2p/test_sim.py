"""Deterministic network simulations of the P2P core against scripted peers."""

from __future__ import annotations

from functools import cache
from typing import TypeVar

import pytest

from aureond.chain.header import BlockHeader
from aureond.clock import FakeClock
from aureond.p2p.actions import (
    Connect,
    Disconnect,
    HeadersRejected,
    PeerMisbehaved,
    Send,
    StaleTip,
    Stalled,
    SyncState,
    TipUpdated,
)
from aureond.p2p.events import BanLifted, PeerDisconnected, PeerId
from aureond.p2p.syncpeer import LOW_WORK_LIMIT, MAX_UNCONNECTING, UNCONNECTING_INTERVAL
from aureond.resilience import BreakerConfig, CircuitBreaker
from aureond.store.peers import PeerAddress
from aureond.wire import MAX_HEADERS_RESULTS, GetHeaders, Headers
from tests.chain.helpers import mine, mine_bad_pow
from tests.p2p.sim import GENESIS, SimChain, SimNetwork, SimPeer, make_node, mine_chain

A = PeerAddress("10.0.0.1", 18444)
B = PeerAddress("10.0.0.2", 18444)
C = PeerAddress("10.0.0.3", 18444)
BAN = 3600
M = TypeVar("M")


@cache
def trunk(n: int = 5000) -> tuple[BlockHeader, ...]:
    """Genesis and ``n`` mined headers, shared by the scenarios."""
    return (GENESIS, *mine_chain(GENESIS, n))


def honest(address: PeerAddress, height: int, **kw: object) -> SimPeer:
    return SimPeer(address, list(trunk()[:height + 1]), **kw)  # type: ignore[arg-type]


def setup(peers: list[SimPeer], *, target: int = 8, addresses: list[PeerAddress] | None = None,
          window: int | None = None, start: float | None = None, seed: int = 0,
          jitter: float = 0.0, loss: float = 0.0) -> tuple[SimChain, SimNetwork]:
    chain = SimChain.create(window=window)
    node = make_node(chain, addresses or [p.address for p in peers], target_outbound=target,
                     ban_seconds=BAN)
    if start is None:
        start = max(p.chain[-1].time for p in peers) + 60
    return chain, SimNetwork(node, peers, start=start, seed=seed, jitter=jitter, loss=loss)


def sends_to(net: SimNetwork, address: PeerAddress, kind: type[M]) -> list[M]:
    """Messages of ``kind`` the core sent to ``address``, in order."""
    return [a.message for a in net.actions if isinstance(a, Send)
            and a.peer.address == address and isinstance(a.message, kind)]


def disconnects(net: SimNetwork, address: PeerAddress) -> list[Disconnect]:
    return [a for a in net.actions if isinstance(a, Disconnect) and a.peer.address == address]


def only_honest_accepted(chain: SimChain, *chains: list[BlockHeader]) -> bool:
    good = {h.hash for c in chains for h in c}
    return all(n.hash in good for n in chain.accepted)


# --- honest sync ----------------------------------------------------------------------

def test_honest_sync_of_thousands_of_headers_from_one_peer() -> None:
    peer = honest(A, 5000)
    chain, net = setup([peer], target=1)
    net.run(60, until=lambda: chain.tip_height == 5000)
    assert chain.tip_hash == peer.chain[-1].hash
    net.run(5)
    requests = sends_to(net, A, GetHeaders)
    assert len(requests) == 3  # 2000 + 2000 + 1000
    assert requests[1].locator[0] == peer.chain[2000].hash  # continues from the last
    assert not net.of_type(Disconnect)
    status = net.node.status(net.now)
    assert (status.state, status.best_peer_height, status.progress) == (SyncState.SYNCED,
                                                                       5000, 1.0)
    assert not status.tip_stale


def test_sync_survives_message_loss_and_jitter() -> None:
    peers = [honest(A, 3000), honest(B, 3000), honest(C, 3000)]
    chain, net = setup(peers, target=3, seed=7, jitter=0.5, loss=0.2)
    net.run(3600, until=lambda: chain.tip_height == 3000)
    assert chain.tip_hash == trunk()[3000].hash
    # Lost requests surface as stalls, never as bans.
    assert all(d.ban_seconds is None for d in net.of_type(Disconnect))


# --- liars ----------------------------------------------------------------------------

def _bad_pow(prev: BlockHeader) -> BlockHeader:
    return mine_bad_pow(prev.hash, prev.time + 600, prev.bits)


def _wrong_bits(prev: BlockHeader) -> BlockHeader:
    return mine(prev.hash, prev.time + 600, 0x1F7FFFFF)  # valid work, not the expected bits


def _broken_link(prev: BlockHeader) -> BlockHeader:
    return mine(b"\x42" * 32, prev.time + 600, prev.bits)


@pytest.mark.parametrize(("forge", "reason"), [
    (_bad_pow, "high-hash"),
    (_wrong_bits, "bad-diffbits"),
    (_broken_link, "bad-prevblk"),
])
def test_lying_peer_is_banned_with_its_reason_and_the_honest_peer_wins(
        forge: object, reason: str) -> None:
    good = honest(B, 2500)
    prefix = list(trunk()[:1201])
    lie = [*prefix, forge(prefix[-1])]  # type: ignore[operator]
    lie += mine_chain(lie[-1], 50, salt=9)  # more after the bad one, never reached
    liar = SimPeer(A, lie, start_height=4000)
    chain, net = setup([liar, good], start=good.chain[-1].time + 60)
    net.run(600, until=lambda: chain.tip_height == 2500)
    assert chain.tip_hash == good.chain[-1].hash
    drops = disconnects(net, A)
    assert drops[0].reason == f"invalid-headers:{reason}"
    assert drops[0].ban_seconds == BAN
    rejected = net.of_type(HeadersRejected)
    assert [(r.reason, r.height) for r in rejected] == [(reason, 1201)]
    assert any(isinstance(a, PeerMisbehaved) and a.score == 100 for a in net.actions)
    assert only_honest_accepted(chain, good.chain)
    # Banned: never dialled again.
    first_drop = net.actions.index(drops[0])
    assert not [a for a in net.actions[first_drop:]
                if isinstance(a, Connect) and a.peer.address == A]
    assert net.node.manager.is_banned(A, net.now)


def test_a_lifted_ban_lets_the_address_be_dialled_at_once() -> None:
    lie = [*trunk()[:101]]
    lie.append(_bad_pow(lie[-1]))
    liar = SimPeer(A, lie, start_height=200)
    chain, net = setup([liar], target=1, start=trunk()[200].time + 60)
    net.run(30)
    assert [d.ban_seconds for d in disconnects(net, A)] == [BAN]
    assert net.node.manager.is_banned(A, net.now)
    net.run(120)
    dials = [a for a in net.actions if isinstance(a, Connect) and a.peer.address == A]
    assert len(dials) == 1  # banned: left alone
    liar.chain = list(trunk()[:201])  # it mends its ways; the operator lifts the ban
    net.deliver(BanLifted(A, net.now))
    redials = [a for a in net.actions if isinstance(a, Connect) and a.peer.address == A]
    assert len(redials) == 2  # dialled in answer to the event, not after a backoff
    assert not net.node.manager.is_banned(A, net.now)
    net.run(30, until=lambda: chain.tip_height == 200)
    assert chain.tip_hash == trunk()[200].hash
    assert [d.ban_seconds for d in disconnects(net, A)] == [BAN]  # no second drop


# --- stalls and garbage ----------------------------------------------------------------

def test_stalled_sync_peer_fails_over() -> None:
    staller = honest(A, 3000, answers_getheaders=False, start_height=3000)
    good = honest(B, 2999)
    chain, net = setup([staller, good])
    net.run(900, until=lambda: chain.tip_height == 2999)
    assert chain.tip_height == 2999
    stalls = net.of_type(Stalled)
    assert stalls
    assert stalls[0].peer.address == A
    assert disconnects(net, A)[0].reason == "headers-timeout"
    assert disconnects(net, A)[0].ban_seconds is None


@pytest.mark.parametrize("garbage", [
    bytes.fromhex("fabfb5da") + b"x" * 40,               # Bitcoin Core's regtest magic
    bytes.fromhex("dab5bffa") + b"headers".ljust(12, b"\0")
    + (64 * 1024 * 1024).to_bytes(4, "little") + b"\0" * 4,  # claims a 64 MiB payload
    b"\x00" * 24,
])
def test_garbage_frames_disconnect_and_the_manager_dials_elsewhere(garbage: bytes) -> None:
    bad = honest(A, 3000, garbage_after_verack=garbage)
    good = honest(B, 2000)
    # One outbound slot: the bad peer is dialled first, then the slot moves on.
    chain, net = setup([bad, good], target=1, addresses=[A, B])
    net.run(600, until=lambda: chain.tip_height == 2000)
    assert chain.tip_hash == good.chain[-1].hash
    ended = [e for e in net.events if isinstance(e, PeerDisconnected)]
    assert ended
    assert (ended[0].peer.address, ended[0].reason) == (A, "protocol-error")
    dialled = [a.peer.address for a in net.of_type(Connect)]
    assert dialled[:2] == [A, B]


# --- unconnecting headers ----------------------------------------------------------------

def orphan(salt: int) -> Headers:
    parent = mine(bytes([salt]) * 32, trunk()[100].time, GENESIS.bits)
    return Headers((mine(parent.hash, parent.time + 600, GENESIS.bits),))


def test_unconnecting_headers_get_one_getheaders_per_interval_and_never_a_ban() -> None:
    peer = honest(A, 100)
    chain, net = setup([peer], target=1)
    net.run(30, until=lambda: chain.tip_height == 100)
    net.run(5)
    pid = net.peer_of(peer)
    assert pid is not None
    before = len(sends_to(net, A, GetHeaders))
    for i in range(5):
        net.push(pid, orphan(i))
        net.run(2)
    assert len(sends_to(net, A, GetHeaders)) == before + 1  # five messages, one request
    net.run(UNCONNECTING_INTERVAL)
    net.push(pid, orphan(9))
    net.run(2)
    assert len(sends_to(net, A, GetHeaders)) == before + 2  # a new interval, one more
    assert not disconnects(net, A)
    for i in range(MAX_UNCONNECTING - 6):
        net.push(pid, orphan(20 + i))
    net.run(2)
    assert not disconnects(net, A)  # exactly MAX_UNCONNECTING in a row are tolerated
    net.push(pid, orphan(99))
    net.run(2)
    drop = disconnects(net, A)
    assert [(d.reason, d.ban_seconds) for d in drop] == [("unconnecting-headers", None)]
    assert not net.node.manager.is_banned(A, net.now)


def test_connecting_headers_reset_the_unconnecting_count() -> None:
    peer = honest(A, 100)
    chain, net = setup([peer], target=1)
    net.run(30, until=lambda: chain.tip_height == 100)
    pid = net.peer_of(peer)
    assert pid is not None
    for round_ in range(3):
        for i in range(MAX_UNCONNECTING):
            net.push(pid, orphan(round_ * 16 + i))
        net.announce(peer, peer.extend(mine_chain(peer.chain[-1], 1, salt=round_ + 1)))
        net.run(3)
    assert not disconnects(net, A)
    assert chain.tip_height == 103


# --- low-work floods -----------------------------------------------------------------------

def test_low_work_header_flood_is_bounded_in_memory() -> None:
    main = honest(A, 3000)
    window = 3040
    chain, net = setup([main], target=1, window=window)
    net.run(60, until=lambda: chain.tip_height == 3000)
    pid = net.peer_of(main)
    assert pid is not None
    fork = trunk()[1500]
    sent = 0
    for salt in range(1, 6):
        branch = mine_chain(fork, 1400, salt=100 + salt)  # 2900 < 3000: less work
        net.push(pid, Headers(tuple(branch[:MAX_HEADERS_RESULTS])))
        net.run(2)
        sent += len(branch)
        assert len(chain.tree) <= 3001 + LOW_WORK_LIMIT + MAX_HEADERS_RESULTS
        if disconnects(net, A):
            break
    assert [d.reason for d in disconnects(net, A)] == ["low-work-flood"]
    assert sent <= LOW_WORK_LIMIT + 1400
    assert chain.tip_hash == trunk()[3000].hash


# --- announcements and reorgs ---------------------------------------------------------------

def test_peer_announcing_only_by_inv_is_followed() -> None:
    peer = honest(A, 200, announce_with_inv=True)
    chain, net = setup([peer], target=1)
    net.run(30, until=lambda: chain.tip_height == 200)
    new = mine_chain(peer.chain[-1], 3, salt=5)
    net.announce(peer, peer.extend(new))
    net.run(5)
    assert chain.tip_hash == new[-1].hash


def test_headers_announcement_is_followed_without_a_request() -> None:
    peer = honest(A, 200)
    chain, net = setup([peer], target=1)
    net.run(30, until=lambda: chain.tip_height == 200)
    requests = len(sends_to(net, A, GetHeaders))
    new = mine_chain(peer.chain[-1], 4, salt=6)
    announcement = peer.extend(new)
    assert isinstance(announcement[0], Headers)
    net.announce(peer, announcement)
    net.run(5)
    assert chain.tip_hash == new[-1].hash
    assert len(sends_to(net, A, GetHeaders)) == requests


def test_reorg_to_a_longer_branch_of_a_second_peer() -> None:
    a, b = honest(A, 50), honest(B, 50)
    chain, net = setup([a, b], target=2)
    net.run(30, until=lambda: chain.tip_height == 50)
    net.run(3)
    branch = mine_chain(trunk()[40], 15, salt=77)
    net.announce(b, b.reorg_to([*trunk()[:41], *branch]))
    net.run(5)
    assert chain.tip_hash == branch[-1].hash
    reorgs = [a_.result for a_ in net.of_type(TipUpdated) if a_.result.reverted]
    assert len(reorgs) == 1
    assert [n.hash for n in reorgs[0].reverted] == [h.hash for h in trunk()[50:40:-1]]
    assert [n.hash for n in reorgs[0].connected] == [h.hash for h in branch]
    assert only_honest_accepted(chain, list(trunk()), branch)


# --- stale tip --------------------------------------------------------------------------------

def test_stale_tip_asks_every_peer_and_says_so() -> None:
    peers = [honest(A, 100), honest(B, 100)]
    chain, net = setup(peers, target=2)
    net.run(30, until=lambda: chain.tip_height == 100)
    net.run(3)
    counts = [len(sends_to(net, p.address, GetHeaders)) for p in peers]
    net.run(60 * 60)
    stale = net.of_type(StaleTip)
    assert stale
    assert stale[0].tip_height == 100
    assert all(len(sends_to(net, p.address, GetHeaders)) > c for p, c in zip(peers, counts,
                                                                               strict=True))
    assert net.node.status(net.now).tip_stale


# --- connection failures and breakers -------------------------------------------------------

def test_dead_address_opens_its_breaker_and_sync_uses_the_live_one() -> None:
    clock = FakeClock(start=0.0)
    breakers: dict[str, CircuitBreaker] = {}

    def factory(name: str) -> CircuitBreaker:
        breakers[name] = CircuitBreaker(name, clock, BreakerConfig(failure_threshold=2,
                                                                   open_timeout=600.0))
        return breakers[name]

    dead = honest(A, 10, accepts=False)
    good = honest(B, 300)
    chain = SimChain.create()
    node = make_node(chain, [A, B], target_outbound=2, breakers=factory,
                     backoff=lambda n: 1.0)
    net = SimNetwork(node, [dead, good], start=good.chain[-1].time + 60, clock=clock)
    net.run(120)
    assert chain.tip_height == 300
    dials_a = [a for a in net.of_type(Connect) if a.peer.address == A]
    assert len(dials_a) == 2  # two failures open the breaker; no third dial within 600 s
    assert breakers["peer-1"].state.value == "open"
    assert breakers["peer-2"].state.value == "closed"


def test_peer_that_goes_away_is_replaced() -> None:
    a, b = honest(A, 500), honest(B, 500)
    chain, net = setup([a, b], target=1, addresses=[A, B])
    net.run(30, until=lambda: chain.tip_height == 500)
    net.kill(a)
    b.chain.extend(mine_chain(b.chain[-1], 5, salt=3))
    net.run(120, until=lambda: chain.tip_height == 505)
    assert chain.tip_height == 505
    assert isinstance(net.peer_of(b), PeerId)
