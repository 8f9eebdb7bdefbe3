"""The P2P protocol core: handshakes, pings, header sync and peer slots in one value.

``P2PProtocol.handle(event)`` routes an event to the managers and returns their
actions in order. When any of them decides to drop a peer, every manager forgets it
at once (its later messages are ignored), the manager frees its slot, and a ban is
recorded; so one list never holds two ``Disconnect`` for a peer, nor a ``Send`` after
its ``Disconnect``. An optional block hook (:class:`BlockSink`, e.g. the state layer's
block fetcher) receives raw ``block`` and ``notfound`` messages, established and lost
peers, and ticks; its actions are settled like the managers'. A stale tip makes the
manager dial one extra outbound peer until the tip moves again; if the tip is still
stale at the next check, the least useful outbound peer (lowest height, newest) is
dropped so the slot tries another address.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aureond.clock import RandomSource
from aureond.p2p.actions import Action, Disconnect, Send, StaleTip, TipUpdated
from aureond.p2p.events import (
    AddressesLearned,
    BanLifted,
    ConnectFailed,
    Event,
    MessageReceived,
    PeerConnected,
    PeerDisconnected,
    PeerId,
    Resume,
    Tick,
)
from aureond.p2p.handshake import Handshake, HandshakeConfig
from aureond.p2p.interfaces import ForkChain
from aureond.p2p.manager import ConnState, PeerManager
from aureond.p2p.ping import PingManager
from aureond.p2p.sync import SyncManager, SyncStatus
from aureond.p2p.syncpeer import DEFAULT_BAN_SECONDS
from aureond.wire import Headers, Inv, Message, NotFound, Ping, Pong, Unknown

__all__ = ["TICK_INTERVAL", "BlockSink", "P2PProtocol", "PeerSummary"]

#: The driver delivers a ``Tick`` at least this often (seconds); every timeout in the
#: core is a multiple of it.
TICK_INTERVAL = 1.0


@dataclass(frozen=True, slots=True)
class PeerSummary:
    """One connection as ``/v1/peers`` shows it."""

    peer: PeerId
    state: ConnState
    inbound: bool
    version: int | None
    user_agent: str | None
    height: int | None


class BlockSink(Protocol):
    """The block hook: a full-block download manager living above the P2P core.

    ``on_message`` gets ``block`` (as ``Unknown``: the wire layer keeps its payload raw)
    and ``notfound`` from established peers; every method returns actions.
    """

    def peer_ready(self, peer: PeerId, now: float) -> list[Action]: ...

    def peer_gone(self, peer: PeerId, now: float) -> list[Action]: ...

    def on_message(self, peer: PeerId, message: Message, now: float) -> list[Action]: ...

    def tick(self, now: float) -> list[Action]: ...


class P2PProtocol:
    """Sans-I/O P2P core: ``handle(event) -> list[Action]``; see ``aureond.p2p``."""

    def __init__(self, chain: ForkChain, manager: PeerManager, rng: RandomSource, *,
                 handshake: HandshakeConfig | None = None,
                 ban_seconds: int = DEFAULT_BAN_SECONDS,
                 blocks: BlockSink | None = None,
                 headers_per_step: int | None = None) -> None:
        self._chain = chain
        self.blocks = blocks
        self._rng = rng
        self._config = handshake if handshake is not None else HandshakeConfig()
        self.manager = manager
        self.ping = PingManager(rng)
        self.sync = SyncManager(chain, rng, ban_seconds=ban_seconds,
                                headers_per_step=headers_per_step)
        self._handshakes: dict[PeerId, Handshake] = {}
        self._nonces: set[int] = set()

    # --- queries ----------------------------------------------------------------

    def status(self, now: float) -> SyncStatus:
        return self.sync.status(now)

    def peers(self) -> list[PeerSummary]:
        out = []
        for peer, hs in sorted(self._handshakes.items()):
            v = hs.their_version
            state = self.manager.state_of(peer) or ConnState.HANDSHAKING
            out.append(PeerSummary(peer, state, hs.inbound, v.version if v else None,
                                   v.user_agent if v else None, self.sync.peer_height(peer)))
        return out

    # --- events -----------------------------------------------------------------

    def handle(self, event: Event) -> list[Action]:
        """Process one event; returns the actions to carry out, in order."""
        if isinstance(event, MessageReceived):
            out = self._on_message(event.peer, event.message, event.now)
        elif isinstance(event, Tick):
            out = self._on_tick(event.now)
        elif isinstance(event, Resume):
            out = (self.sync.resume(event.peer, event.now)
                   if event.peer in self._handshakes else [])
        elif isinstance(event, PeerConnected):
            out = self._on_connected(event)
        elif isinstance(event, PeerDisconnected | ConnectFailed):
            out = self._forget(event.peer, event.now)
        elif isinstance(event, AddressesLearned):
            out = self.manager.add_addresses(event.addresses, event.now)
        elif isinstance(event, BanLifted):
            out = self.manager.unban(event.address, event.now)
        else:  # pragma: no cover - the Event union is exhaustive
            raise TypeError(f"not a P2P event: {event!r}")
        return self._settle(out, event.now)

    def _on_connected(self, event: PeerConnected) -> list[Action]:
        peer = event.peer
        refused = self.manager.on_connected(peer, event.now, inbound=event.inbound)
        if refused:
            return refused
        nonce = self._new_nonce()
        hs = Handshake(peer, self._config, nonce, inbound=event.inbound,
                       is_own_nonce=self._nonces.__contains__)
        self._handshakes[peer] = hs
        self._nonces.add(nonce)
        return hs.start(event.now, self._chain.tip_height)

    def _new_nonce(self) -> int:
        while True:
            nonce = int.from_bytes(self._rng.randbytes(8), "little")
            if nonce and nonce not in self._nonces:
                return nonce

    def _on_message(self, peer: PeerId, message: Message, now: float) -> list[Action]:
        hs = self._handshakes.get(peer)
        if hs is None:
            return []  # a peer we already dropped
        if not hs.is_established():
            out = hs.on_message(message, now)
            if hs.is_established() and hs.their_version is not None:
                self.manager.on_established(peer)
                out += self.ping.add(peer, now)
                out += self.sync.add_peer(peer, hs.their_version.start_height, now)
                if self.blocks is not None:
                    out += self.blocks.peer_ready(peer, now)
            return out
        if isinstance(message, Headers):
            return self.sync.on_headers(peer, message, now)
        if isinstance(message, Inv):
            return self.sync.on_inv(peer, message, now)
        if isinstance(message, Ping):
            return self.ping.on_ping(peer, message)
        if isinstance(message, Pong):
            return self.ping.on_pong(peer, message, now)
        if self.blocks is not None and (
                isinstance(message, NotFound)
                or (isinstance(message, Unknown) and message.command == "block")):
            return self.blocks.on_message(peer, message, now)
        # protoconf, authch, sendcmpct, feefilter, sendheaders, addr, getheaders (we
        # serve nothing), a duplicate version, unknown commands: nothing to do.
        return []

    def _on_tick(self, now: float) -> list[Action]:
        out: list[Action] = []
        for hs in list(self._handshakes.values()):
            out += hs.tick(now)
        out += self.ping.tick(now)
        out += self.sync.tick(now)
        out += self.manager.tick(now)
        if self.blocks is not None:
            out += self.blocks.tick(now)
        return out

    def _on_stale_tip(self) -> list[Action]:
        """Dial one extra outbound peer; if that did not help, rotate the least useful."""
        if self.manager.extra_outbound == 0:
            self.manager.extra_outbound = 1
            return []
        outbound = [p for p in self._handshakes
                    if p.slot > 0 and self.sync.peer_height(p) is not None]
        if len(outbound) <= 1:
            return []
        worst = min(outbound, key=lambda p: (self.sync.peer_height(p) or 0, -p.slot))
        return [Disconnect(worst, "stale-tip-rotation")]

    def _forget(self, peer: PeerId, now: float) -> list[Action]:
        """Drop every trace of ``peer``; returns what that sets off (a new sync peer)."""
        hs = self._handshakes.pop(peer, None)
        if hs is not None:
            self._nonces.discard(hs.nonce)
        self.ping.remove(peer)
        self.manager.on_disconnected(peer, now)
        out = self.sync.remove_peer(peer, now)
        if self.blocks is not None:
            out += self.blocks.peer_gone(peer, now)
        return out

    def _settle(self, actions: list[Action], now: float) -> list[Action]:
        """Apply the core's own disconnects and bans; drop what follows a disconnect."""
        out: list[Action] = []
        gone: set[PeerId] = set()
        pending = list(actions)
        i = 0
        while i < len(pending):
            action = pending[i]
            i += 1
            if isinstance(action, Send | Disconnect) and action.peer in gone:
                continue
            out.append(action)
            if isinstance(action, StaleTip):
                pending[i:i] = self._on_stale_tip()
            elif isinstance(action, TipUpdated):
                self.manager.extra_outbound = 0
            elif isinstance(action, Disconnect):
                gone.add(action.peer)
                if action.ban_seconds is not None:
                    self.manager.ban(action.peer.address, action.ban_seconds, now)
                pending[i:i] = self._forget(action.peer, now)
        return out
