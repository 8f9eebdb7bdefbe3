"""Outbound connections: which address to dial next, reconnect backoff, and bans.

The manager keeps up to ``target_outbound`` outbound connections. Candidate addresses
come from the configuration and from ``AddressesLearned`` (DNS seeds, at most
``MAX_ADDRESSES`` kept); the next one dialled is the first, round-robin, that is not in
use, not banned, not backing off and whose circuit breaker admits a call. Each
connection attempt settles its breaker call exactly once: success when the handshake
completes, failure when the connection fails before that.

A connection that ends counts as a failure of its address unless it lasted
``STABLE_SESSION`` seconds; the address then waits ``backoff(failures)`` seconds
(capped exponential) before it is dialled again. Bans are kept in memory from the
moment they are decided and persisted by the driver (``Disconnect.ban_seconds``), and
the persistent ban list is consulted before every dial, so bans survive restarts.
While the tip is stale the node asks for one extra outbound connection
(``extra_outbound``), as Bitcoin Core does, so that a full set of peers with nothing
new cannot keep us behind.

::

    idle --dial--> CONNECTING --connected--> HANDSHAKING --verack--> ESTABLISHED
    CONNECTING --failed / CONNECT_TIMEOUT--> idle (backoff)
    HANDSHAKING | ESTABLISHED --disconnected--> idle (backoff unless stable)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from aureond.clock import RandomSource
from aureond.p2p.actions import Action, Connect, Disconnect, NeedAddresses
from aureond.p2p.events import PeerId
from aureond.p2p.interfaces import BackoffSchedule, BanList, Breaker, BreakerFactory
from aureond.resilience.retry import RetryPolicy
from aureond.store.peers import PeerAddress

__all__ = [
    "ADDRESS_REQUEST_INTERVAL",
    "CONNECT_TIMEOUT",
    "DEFAULT_TARGET_OUTBOUND",
    "MAX_ADDRESSES",
    "STABLE_SESSION",
    "ConnState",
    "PeerManager",
    "backoff_from_policy",
    "capped_backoff",
]

#: Seconds an outbound TCP connection may take to come up.
CONNECT_TIMEOUT = 30.0
#: Outbound connections wanted by default.
DEFAULT_TARGET_OUTBOUND = 8
#: Candidate addresses kept (configured ones always are).
MAX_ADDRESSES = 1000
#: A connection that lasted this long resets its address's failure count.
STABLE_SESSION = 5 * 60.0
#: At most one ``NeedAddresses`` per this many seconds.
ADDRESS_REQUEST_INTERVAL = 5 * 60.0


def capped_backoff(initial: float = 1.0, maximum: float = 300.0) -> BackoffSchedule:
    """``initial * 2**(n-1)`` seconds after ``n`` failures, at most ``maximum``."""
    def schedule(failures: int) -> float:
        return min(maximum, initial * 2.0 ** min(max(0, failures - 1), 64))
    return schedule


def backoff_from_policy(policy: RetryPolicy, rng: RandomSource) -> BackoffSchedule:
    """The resilience layer's capped exponential backoff with full jitter."""
    def schedule(failures: int) -> float:
        return policy.delay(max(1, failures), rng)
    return schedule


class ConnState(Enum):
    CONNECTING = "connecting"
    HANDSHAKING = "handshaking"
    ESTABLISHED = "established"


@dataclass(slots=True)
class _Candidate:
    address: PeerAddress
    breaker: Breaker | None
    configured: bool
    failures: int = 0
    next_attempt: float = 0.0
    in_use: PeerId | None = None


@dataclass(slots=True)
class _Conn:
    peer: PeerId
    state: ConnState
    since: float
    inbound: bool
    settled: bool = False  # the breaker call of this attempt has been reported


class PeerManager:
    """Outbound slots, dialling order, backoff and bans; see the module docstring."""

    def __init__(self, addresses: Iterable[PeerAddress], *, bans: BanList | None = None,
                 breakers: BreakerFactory | None = None,
                 backoff: BackoffSchedule | None = None,
                 target_outbound: int = DEFAULT_TARGET_OUTBOUND,
                 max_inbound: int = 0) -> None:
        if target_outbound < 0 or max_inbound < 0:
            raise ValueError("target_outbound and max_inbound must not be negative")
        self._bans = bans
        self._breakers = breakers
        self._backoff = backoff if backoff is not None else capped_backoff()
        self.target_outbound = target_outbound
        self.max_inbound = max_inbound
        self._candidates: dict[PeerAddress, _Candidate] = {}
        self._order: list[PeerAddress] = []
        self._cursor = 0
        self._conns: dict[PeerId, _Conn] = {}
        self._local_bans: dict[PeerAddress, float] = {}
        self._next_slot = 1
        self._last_address_request: float | None = None
        self._names = 0
        self.extra_outbound = 0
        for address in addresses:
            self._learn(address, configured=True)

    # --- queries ----------------------------------------------------------------

    def state_of(self, peer: PeerId) -> ConnState | None:
        conn = self._conns.get(peer)
        return conn.state if conn is not None else None

    def counts(self) -> dict[ConnState, int]:
        """Connections per state (the ``aureond_peers{state}`` gauge)."""
        out = dict.fromkeys(ConnState, 0)
        for conn in self._conns.values():
            out[conn.state] += 1
        return out

    @property
    def outbound(self) -> int:
        return sum(1 for c in self._conns.values() if not c.inbound)

    def breaker_of(self, address: PeerAddress) -> Breaker | None:
        """The circuit breaker of ``address`` (None: unknown address or no breakers)."""
        candidate = self._candidates.get(address)
        return candidate.breaker if candidate is not None else None

    def addresses(self) -> list[PeerAddress]:
        return list(self._order)

    def is_banned(self, address: PeerAddress, now: float) -> bool:
        until = self._local_bans.get(address)
        if until is not None:
            if until > now:
                return True
            del self._local_bans[address]
        return self._bans is not None and self._bans.is_banned(address, now)

    # --- addresses --------------------------------------------------------------

    def _learn(self, address: PeerAddress, *, configured: bool) -> None:
        if address in self._candidates:
            return
        if not configured and len(self._order) >= MAX_ADDRESSES:
            return
        self._names += 1
        breaker = self._breakers(f"peer-{self._names}") if self._breakers else None
        self._candidates[address] = _Candidate(address, breaker, configured)
        self._order.append(address)

    def add_addresses(self, addresses: Iterable[PeerAddress], now: float) -> list[Action]:
        for address in addresses:
            self._learn(address, configured=False)
        return self.tick(now)

    def ban(self, address: PeerAddress, seconds: int, now: float) -> None:
        """Refuse ``address`` for ``seconds`` (the driver persists the ban)."""
        until = now + seconds
        self._local_bans[address] = max(until, self._local_bans.get(address, until))

    def unban(self, address: PeerAddress, now: float) -> list[Action]:
        """The ban of ``address`` was lifted (the persistent list is the caller's):
        forget ours, end its backoff, and dial it now if a slot is free."""
        self._local_bans.pop(address, None)
        candidate = self._candidates.get(address)
        if candidate is not None:
            candidate.failures = 0
            candidate.next_attempt = now
        return self.tick(now)

    # --- dialling ---------------------------------------------------------------

    def _dialable(self, c: _Candidate, now: float) -> bool:
        return c.in_use is None and c.next_attempt <= now and not self.is_banned(c.address,
                                                                                  now)

    def _next_candidate(self, now: float) -> _Candidate | None:
        n = len(self._order)
        for step in range(n):
            c = self._candidates[self._order[(self._cursor + step) % n]]
            if not self._dialable(c, now):
                continue
            if c.breaker is not None and not c.breaker.allow():
                continue
            self._cursor = (self._cursor + step + 1) % n
            return c
        return None

    def tick(self, now: float) -> list[Action]:
        """Time out slow connects, and dial until ``target_outbound`` are open."""
        out: list[Action] = []
        for conn in list(self._conns.values()):
            if conn.state is ConnState.CONNECTING and now - conn.since >= CONNECT_TIMEOUT:
                out.append(Disconnect(conn.peer, "connect-timeout"))
                self.on_disconnected(conn.peer, now)
        while self.outbound < self.target_outbound + self.extra_outbound:
            c = self._next_candidate(now)
            if c is None:
                out += self._need_addresses(now)
                break
            peer = PeerId(self._next_slot, c.address)
            self._next_slot += 1
            c.in_use = peer
            self._conns[peer] = _Conn(peer, ConnState.CONNECTING, now, inbound=False)
            out.append(Connect(peer))
        return out

    def _need_addresses(self, now: float) -> list[Action]:
        usable = any(c.in_use is None and not self.is_banned(c.address, now)
                     for c in self._candidates.values())
        if usable:
            return []  # some address is only backing off or behind an open breaker
        last = self._last_address_request
        if last is not None and now - last < ADDRESS_REQUEST_INTERVAL:
            return []
        self._last_address_request = now
        return [NeedAddresses()]

    # --- outcomes ---------------------------------------------------------------

    def on_connected(self, peer: PeerId, now: float, *, inbound: bool) -> list[Action]:
        """The connection is up; an empty list means it is accepted."""
        if inbound:
            count = sum(1 for c in self._conns.values() if c.inbound)
            if count >= self.max_inbound or self.is_banned(peer.address, now):
                return [Disconnect(peer, "inbound-refused")]
            self._conns[peer] = _Conn(peer, ConnState.HANDSHAKING, now, inbound=True)
            return []
        conn = self._conns.get(peer)
        if conn is None or conn.state is not ConnState.CONNECTING:
            return [Disconnect(peer, "unexpected-connection")]
        conn.state, conn.since = ConnState.HANDSHAKING, now
        return []

    def on_established(self, peer: PeerId) -> None:
        conn = self._conns.get(peer)
        if conn is None:
            return
        conn.state = ConnState.ESTABLISHED
        if not conn.inbound and not conn.settled:
            conn.settled = True
            breaker = self._candidates[peer.address].breaker
            if breaker is not None:
                breaker.record_success()

    def on_disconnected(self, peer: PeerId, now: float) -> None:
        """The connection (or attempt) ended, whoever ended it."""
        conn = self._conns.pop(peer, None)
        if conn is None or conn.inbound:
            return
        c = self._candidates[peer.address]
        if c.in_use == peer:
            c.in_use = None
        if not conn.settled and c.breaker is not None:
            c.breaker.record_failure()
        stable = conn.state is ConnState.ESTABLISHED and now - conn.since >= STABLE_SESSION
        c.failures = 0 if stable else c.failures + 1
        c.next_attempt = now + self._backoff(max(1, c.failures))
