"""Liveness of established peers: BIP31 ping/pong with random nonces.

Each peer gets a ``ping`` right after the handshake and then every
``PING_INTERVAL``; a peer that does not answer with the matching ``pong`` within
``PING_TIMEOUT`` is disconnected. Their pings are answered at once. A ``pong`` with
another nonce is ignored (it may answer a ping we have given up on).

::

    IDLE(next ping at t) --t reached--> AWAITING_PONG(nonce) --matching pong--> IDLE
    AWAITING_PONG --PING_TIMEOUT--> disconnect
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from aureond.clock import RandomSource
from aureond.p2p.actions import Action, Disconnect, RequestCompleted, Send
from aureond.p2p.events import PeerId
from aureond.wire import Ping, Pong

__all__ = ["PING_INTERVAL", "PING_TIMEOUT", "PingManager", "PingState"]

#: Seconds between the end of one ping and the next.
PING_INTERVAL = 120.0
#: Seconds a peer has to answer a ping.
PING_TIMEOUT = 60.0


class PingState(Enum):
    IDLE = "idle"
    AWAITING_PONG = "awaiting_pong"


@dataclass(slots=True)
class _Pinged:
    state: PingState
    due: float  # IDLE: when to ping; AWAITING_PONG: when the ping was sent
    nonce: int = 0


class PingManager:
    """Ping state of every established peer."""

    __slots__ = ("_peers", "_rng")

    def __init__(self, rng: RandomSource) -> None:
        self._rng = rng
        self._peers: dict[PeerId, _Pinged] = {}

    def state_of(self, peer: PeerId) -> PingState | None:
        p = self._peers.get(peer)
        return p.state if p is not None else None

    def _nonce(self) -> int:
        while True:
            nonce = int.from_bytes(self._rng.randbytes(8), "little")
            if nonce:  # zero means "no nonce" to some implementations
                return nonce

    def _ping(self, peer: PeerId, p: _Pinged, now: float) -> Send:
        p.state, p.due, p.nonce = PingState.AWAITING_PONG, now, self._nonce()
        return Send(peer, Ping(p.nonce))

    def add(self, peer: PeerId, now: float) -> list[Action]:
        """``peer`` completed the handshake: ping it now."""
        p = _Pinged(PingState.IDLE, now)
        self._peers[peer] = p
        return [self._ping(peer, p, now)]

    def remove(self, peer: PeerId) -> None:
        self._peers.pop(peer, None)

    def on_ping(self, peer: PeerId, ping: Ping) -> list[Action]:
        return [Send(peer, Pong(ping.nonce))]

    def on_pong(self, peer: PeerId, pong: Pong, now: float) -> list[Action]:
        p = self._peers.get(peer)
        if p is None or p.state is not PingState.AWAITING_PONG or pong.nonce != p.nonce:
            return []
        rtt = max(0.0, now - p.due)
        p.state, p.due = PingState.IDLE, now + PING_INTERVAL
        return [RequestCompleted(peer, "ping", rtt)]

    def tick(self, now: float) -> list[Action]:
        out: list[Action] = []
        for peer, p in list(self._peers.items()):
            if p.state is PingState.AWAITING_PONG:
                if now - p.due >= PING_TIMEOUT:
                    del self._peers[peer]
                    out.append(Disconnect(peer, "ping-timeout"))
            elif now >= p.due:
                out.append(self._ping(peer, p, now))
        return out
