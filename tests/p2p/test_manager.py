"""The peer manager: dialling order, backoff, breakers, bans, timeouts, addresses."""

from __future__ import annotations

from pathlib import Path

import pytest

from aureond.clock import FakeClock, SeededRandom
from aureond.p2p.actions import Action, Connect, Disconnect, NeedAddresses
from aureond.p2p.events import PeerId
from aureond.p2p.manager import (
    ADDRESS_REQUEST_INTERVAL,
    CONNECT_TIMEOUT,
    STABLE_SESSION,
    ConnState,
    PeerManager,
    backoff_from_policy,
    capped_backoff,
)
from aureond.resilience import CircuitBreaker, RetryPolicy
from aureond.store.peers import PeerAddress, PeerBook

ADDRS = [PeerAddress(f"10.0.0.{i}", 8333) for i in range(1, 5)]


class RecordingBreaker:
    """Counts calls; refuses while ``open``; checks one outcome per admission."""

    def __init__(self) -> None:
        self.open = False
        self.outstanding = 0
        self.log: list[str] = []

    def allow(self) -> bool:
        if self.open:
            self.log.append("refused")
            return False
        self.outstanding += 1
        return True

    def _settle(self, what: str) -> None:
        assert self.outstanding > 0, f"{what} without an admitted call"
        self.outstanding -= 1
        self.log.append(what)

    def record_success(self) -> None:
        self._settle("success")

    def record_failure(self) -> None:
        self._settle("failure")

    def release(self) -> None:
        self._settle("release")


class Bans:
    def __init__(self, banned: set[PeerAddress]) -> None:
        self.banned = banned

    def is_banned(self, address: PeerAddress, now: float | None = None) -> bool:
        return address in self.banned


def connects(actions: list[Action]) -> list[PeerId]:
    return [a.peer for a in actions if isinstance(a, Connect)]


@pytest.mark.parametrize(("failures", "expected"), [
    (1, 1.0), (2, 2.0), (3, 4.0), (9, 256.0), (10, 300.0), (10_000, 300.0),
])
def test_capped_backoff(failures: int, expected: float) -> None:
    assert capped_backoff(1.0, 300.0)(failures) == expected


def test_backoff_from_the_resilience_policy_is_jittered_and_capped() -> None:
    schedule = backoff_from_policy(RetryPolicy(initial_delay=2.0, max_delay=60.0),
                                   SeededRandom(1))
    waits = [schedule(n) for n in range(1, 12)]
    assert all(0 <= w <= min(60.0, 2.0 * 2 ** (n - 1)) for n, w in enumerate(waits, 1))
    assert len(set(waits)) > 1


def test_dials_up_to_the_target_round_robin_with_fresh_slots() -> None:
    m = PeerManager(ADDRS, target_outbound=2)
    first = connects(m.tick(0.0))
    assert [p.address for p in first] == ADDRS[:2]
    assert m.tick(1.0) == []  # both slots busy connecting
    m.on_disconnected(first[0], 2.0)
    m.on_disconnected(first[1], 2.0)
    later = connects(m.tick(2.0))
    assert [p.address for p in later] == ADDRS[2:4]
    assert len({p.slot for p in first + later}) == 4


def test_failed_address_waits_for_its_backoff() -> None:
    m = PeerManager(ADDRS[:1], target_outbound=1, backoff=capped_backoff(10.0, 100.0))
    (peer,) = connects(m.tick(0.0))
    m.on_disconnected(peer, 1.0)  # connect failed
    assert connects(m.tick(10.9)) == []
    (again,) = connects(m.tick(11.0))
    m.on_disconnected(again, 12.0)  # second failure: 20 s
    assert connects(m.tick(31.9)) == []
    assert connects(m.tick(32.0))


def test_connect_timeout_is_a_failure() -> None:
    m = PeerManager(ADDRS[:1], target_outbound=1, backoff=lambda n: 5.0)
    (peer,) = connects(m.tick(0.0))
    out = m.tick(CONNECT_TIMEOUT)
    assert out[0] == Disconnect(peer, "connect-timeout")
    assert m.state_of(peer) is None


def test_banned_addresses_are_skipped_persistent_and_local() -> None:
    m = PeerManager(ADDRS[:3], target_outbound=3, bans=Bans({ADDRS[0]}))
    m.ban(ADDRS[1], 100, now=0.0)
    assert [p.address for p in connects(m.tick(0.0))] == [ADDRS[2]]
    assert m.is_banned(ADDRS[1], 99.0)
    assert not m.is_banned(ADDRS[1], 100.0)


def test_peer_book_bans_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "peers.json"
    clock = FakeClock(start=0.0, wall_offset=1_700_000_000.0)
    PeerBook.open(path, clock=clock).ban(ADDRS[0], "invalid-headers:high-hash", 3600)
    book = PeerBook.open(path, clock=clock)
    m = PeerManager(ADDRS[:2], target_outbound=2, bans=book)
    assert [p.address for p in connects(m.tick(clock.wall()))] == [ADDRS[1]]


def test_breaker_outcomes_one_per_attempt() -> None:
    breakers: dict[str, RecordingBreaker] = {}

    def factory(name: str) -> RecordingBreaker:
        breakers[name] = RecordingBreaker()
        return breakers[name]

    m = PeerManager(ADDRS[:2], target_outbound=2, breakers=factory, backoff=lambda n: 0.0)
    a, b = connects(m.tick(0.0))
    m.on_connected(a, 0.1, inbound=False)
    m.on_established(a)
    m.on_disconnected(a, 50.0)  # after success: nothing more to settle
    m.on_disconnected(b, 0.2)  # connect failed
    assert breakers["peer-1"].log == ["success"]
    assert breakers["peer-2"].log == ["failure"]
    breakers["peer-2"].open = True
    assert [p.address for p in connects(m.tick(60.0))] == [ADDRS[0]]
    assert breakers["peer-2"].log == ["failure", "refused"]
    assert all(b_.outstanding <= 1 for b_ in breakers.values())


def test_real_circuit_breaker_opens_and_probes_again() -> None:
    clock = FakeClock(start=0.0)
    breaker = CircuitBreaker("peer-1", clock)
    m = PeerManager(ADDRS[:1], target_outbound=1, breakers=lambda name: breaker,
                    backoff=lambda n: 0.0)
    for _ in range(5):  # the default failure threshold
        (peer,) = connects(m.tick(clock.wall()))
        m.on_disconnected(peer, clock.wall())
    assert breaker.state.value == "open"
    assert connects(m.tick(clock.wall())) == []
    clock.advance(breaker.config.open_timeout)
    assert connects(m.tick(clock.wall()))  # a probe


@pytest.mark.parametrize(("lasted", "next_wait"), [
    (STABLE_SESSION, 1.0),        # a long session resets the count: first backoff step
    (STABLE_SESSION - 1, 2.0),    # a short one is a second failure in a row
])
def test_session_length_decides_the_backoff(lasted: float, next_wait: float) -> None:
    m = PeerManager(ADDRS[:1], target_outbound=1, backoff=capped_backoff(1.0, 100.0))
    (p1,) = connects(m.tick(0.0))
    m.on_disconnected(p1, 0.5)  # one failure
    (p2,) = connects(m.tick(1.5))
    m.on_connected(p2, 2.0, inbound=False)
    m.on_established(p2)
    m.on_disconnected(p2, 2.0 + lasted)
    end = 2.0 + lasted
    assert connects(m.tick(end + next_wait - 0.01)) == []
    assert connects(m.tick(end + next_wait))


def test_need_addresses_when_nothing_is_usable_rate_limited() -> None:
    m = PeerManager([], target_outbound=2)
    assert m.tick(0.0) == [NeedAddresses()]
    assert m.tick(1.0) == []
    assert m.tick(ADDRESS_REQUEST_INTERVAL) == [NeedAddresses()]
    out = m.add_addresses(ADDRS[:1], ADDRESS_REQUEST_INTERVAL + 1)
    assert [p.address for p in connects(out)] == ADDRS[:1]


def test_backing_off_addresses_do_not_ask_for_more() -> None:
    m = PeerManager(ADDRS[:1], target_outbound=1, backoff=lambda n: 50.0)
    (peer,) = connects(m.tick(0.0))
    m.on_disconnected(peer, 1.0)
    assert m.tick(2.0) == []


def test_inbound_is_refused_by_default_and_counted_when_allowed() -> None:
    m = PeerManager([], target_outbound=0)
    inbound = PeerId(-1, PeerAddress("192.0.2.1", 50000))
    assert m.on_connected(inbound, 0.0, inbound=True) == [Disconnect(inbound,
                                                                     "inbound-refused")]
    m2 = PeerManager([], target_outbound=0, max_inbound=1)
    assert m2.on_connected(inbound, 0.0, inbound=True) == []
    assert m2.counts()[ConnState.HANDSHAKING] == 1
    assert m2.outbound == 0


def test_unexpected_outbound_connection_is_closed() -> None:
    m = PeerManager(ADDRS[:1], target_outbound=0)
    stranger = PeerId(99, ADDRS[0])
    assert m.on_connected(stranger, 0.0, inbound=False) == [
        Disconnect(stranger, "unexpected-connection")]


def test_learned_addresses_are_bounded_and_deduplicated() -> None:
    m = PeerManager(ADDRS[:1], target_outbound=0)
    many = [PeerAddress(f"10.1.{i // 250}.{i % 250}", 8333) for i in range(1500)]
    m.add_addresses(many + many, 0.0)
    assert len(m.addresses()) == 1000
    assert m.addresses()[0] == ADDRS[0]
