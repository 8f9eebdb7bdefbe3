"""The version/verack handshake of one connection, with its admission rules.

Outbound, we send ``version`` at once; inbound, after theirs. Their ``version`` must
carry at least ``min_protocol_version`` and the required services, and a nonce that is
not one of ours (a connection to ourselves). Before our ``verack`` we send the
BIP339 ``wtxidrelay`` and BIP155 ``sendaddrv2`` where their version knows them; after
their ``verack`` the handshake is done and we ask for ``headers`` announcements
(BIP130). Anything else before completion is ignored. A handshake not done within
``HandshakeConfig.timeout`` seconds (``[p2p] handshake_timeout`` in a running node)
fails with ``handshake-timeout``.

::

    AWAIT_CONNECT --start(outbound)--> VERSION_SENT --their version--> AWAIT_VERACK
    AWAIT_CONNECT --start(inbound)--> AWAIT_VERSION --their version--> AWAIT_VERACK
    AWAIT_VERACK --their verack--> ESTABLISHED
    any --refused peer, verack first, timeout--> FAILED
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from aureond import __version__
from aureond.p2p.actions import Action, Disconnect, HandshakeCompleted, Send
from aureond.p2p.events import PeerId
from aureond.wire import (
    PROTOCOL_VERSION,
    Message,
    NetAddress,
    SendAddrV2,
    SendHeaders,
    ServiceFlags,
    Verack,
    Version,
    WtxidRelay,
)

__all__ = [
    "ADDRV2_VERSION",
    "HANDSHAKE_TIMEOUT",
    "MIN_PROTOCOL_VERSION",
    "SENDHEADERS_VERSION",
    "WTXID_RELAY_VERSION",
    "Handshake",
    "HandshakeConfig",
    "HandshakeState",
]

#: Seconds from the connection to the peer's ``verack``, unless configured otherwise.
HANDSHAKE_TIMEOUT = 60.0
#: Oldest protocol we talk to (BIP37 relay flag, ``headers`` since 31800).
MIN_PROTOCOL_VERSION = 70001
#: BIP130 ``sendheaders``.
SENDHEADERS_VERSION = 70012
#: BIP339 ``wtxidrelay``.
WTXID_RELAY_VERSION = 70016
#: BIP155 ``sendaddrv2`` (sent to peers at or above this version).
ADDRV2_VERSION = 70016

_ZERO_ADDRESS = NetAddress(0, bytes(16), 0)


@dataclass(frozen=True, slots=True)
class HandshakeConfig:
    """What we announce and what we require of peers."""

    protocol_version: int = PROTOCOL_VERSION
    min_protocol_version: int = MIN_PROTOCOL_VERSION
    required_services: int = ServiceFlags.NODE_NETWORK
    services: int = 0
    relay: bool = False
    user_agent: str = f"/aureond:{__version__}/"
    send_wtxidrelay: bool = True
    send_addrv2: bool = True
    timeout: float = HANDSHAKE_TIMEOUT
    """Seconds from the connection to the peer's ``verack`` before we give up."""

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError(f"the handshake timeout must be positive, got {self.timeout}")


class HandshakeState(Enum):
    AWAIT_CONNECT = "await_connect"
    VERSION_SENT = "version_sent"
    AWAIT_VERSION = "await_version"
    AWAIT_VERACK = "await_verack"
    ESTABLISHED = "established"
    FAILED = "failed"


def _receiver_address(peer: PeerId) -> NetAddress:
    try:
        ipaddress.ip_address(peer.address.host)
    except ValueError:
        return _ZERO_ADDRESS  # a host name: the receiver field is informational only
    return NetAddress.from_host(peer.address.host, peer.address.port)


class Handshake:
    """The handshake of one connection; feed it messages until ``established``."""

    __slots__ = ("_config", "_is_own_nonce", "_nonce", "_start_height", "_started",
                 "_their_offset", "inbound", "peer", "state", "their_version")

    def __init__(self, peer: PeerId, config: HandshakeConfig, nonce: int, *,
                 inbound: bool, is_own_nonce: Callable[[int], bool]) -> None:
        self.peer = peer
        self.inbound = inbound
        self.state = HandshakeState.AWAIT_CONNECT
        self.their_version: Version | None = None
        self._their_offset = 0.0
        self._config = config
        self._nonce = nonce
        self._is_own_nonce = is_own_nonce
        self._started = 0.0
        self._start_height = 0

    @property
    def nonce(self) -> int:
        """The nonce of our ``version`` on this connection."""
        return self._nonce

    def is_established(self) -> bool:
        return self.state is HandshakeState.ESTABLISHED

    def start(self, now: float, start_height: int) -> list[Action]:
        """The connection is up: outbound peers get our ``version`` now."""
        self._started = now
        self._start_height = start_height
        if self.inbound:
            self.state = HandshakeState.AWAIT_VERSION
            return []
        self.state = HandshakeState.VERSION_SENT
        return [Send(self.peer, self._our_version(now))]

    def _our_version(self, now: float) -> Version:
        c = self._config
        return Version(c.protocol_version, c.services, int(now), _receiver_address(self.peer),
                       _ZERO_ADDRESS, self._nonce, c.user_agent, max(0, self._start_height),
                       c.relay)

    def _fail(self, reason: str) -> list[Action]:
        self.state = HandshakeState.FAILED
        return [Disconnect(self.peer, reason)]

    def on_message(self, message: Message, now: float) -> list[Action]:
        """A message before the handshake is done (others are ignored)."""
        if self.state in (HandshakeState.ESTABLISHED, HandshakeState.FAILED):
            return []
        if isinstance(message, Version):
            return self._on_version(message, now)
        if isinstance(message, Verack):
            if self.state is not HandshakeState.AWAIT_VERACK:
                return self._fail("verack-before-version")
            return self._complete()
        return []

    def _on_version(self, v: Version, now: float) -> list[Action]:
        if self.state is HandshakeState.AWAIT_VERACK:
            return []  # a duplicate version; the reference node ignores it too
        c = self._config
        if self._is_own_nonce(v.nonce):
            return self._fail("self-connection")
        if v.version < c.min_protocol_version:
            return self._fail("obsolete-version")
        if v.services & c.required_services != c.required_services:
            return self._fail("missing-services")
        self.their_version = v
        self._their_offset = v.timestamp - now
        out: list[Action] = []
        if self.state is HandshakeState.AWAIT_VERSION:
            out.append(Send(self.peer, self._our_version(now)))
        if c.send_wtxidrelay and v.version >= WTXID_RELAY_VERSION:
            out.append(Send(self.peer, WtxidRelay()))
        if c.send_addrv2 and v.version >= ADDRV2_VERSION:
            out.append(Send(self.peer, SendAddrV2()))
        out.append(Send(self.peer, Verack()))
        self.state = HandshakeState.AWAIT_VERACK
        return out

    def _complete(self) -> list[Action]:
        v = self.their_version
        if v is None:  # pragma: no cover - AWAIT_VERACK implies a version
            return self._fail("verack-before-version")
        self.state = HandshakeState.ESTABLISHED
        out: list[Action] = [HandshakeCompleted(self.peer, v.version, v.services,
                                                v.user_agent, max(0, v.start_height),
                                                self._their_offset)]
        if v.version >= SENDHEADERS_VERSION:
            out.append(Send(self.peer, SendHeaders()))
        return out

    def tick(self, now: float) -> list[Action]:
        """Fail a handshake that has taken ``HandshakeConfig.timeout`` or longer."""
        if self.state in (HandshakeState.ESTABLISHED, HandshakeState.FAILED,
                          HandshakeState.AWAIT_CONNECT):
            return []
        if now - self._started >= self._config.timeout:
            return self._fail("handshake-timeout")
        return []
