"""Inputs of the P2P protocol core: what the driver observed, stamped with ``now``.

``now`` is Unix wall time in seconds (the driver's ``Clock.wall()``): the same time
headers are judged against (the two-hour future rule, the stale-tip age). The core
never reads a clock; it only compares the ``now`` values it is handed.
"""

from __future__ import annotations

from dataclasses import dataclass

from aureond.store.peers import PeerAddress
from aureond.wire import Message

__all__ = [
    "AddressesLearned",
    "BanLifted",
    "ConnectFailed",
    "Event",
    "MessageReceived",
    "PeerConnected",
    "PeerDisconnected",
    "PeerId",
    "Resume",
    "Tick",
]


@dataclass(frozen=True, slots=True, order=True)
class PeerId:
    """One connection: a slot number, never reused while the node runs, and the address.

    Slot numbers of outbound connections are handed out by the core in ``Connect``;
    the driver numbers inbound connections itself with negative slots. Never use the
    address as a metric label.
    """

    slot: int
    address: PeerAddress

    def __str__(self) -> str:
        return f"#{self.slot} {self.address}"


@dataclass(frozen=True, slots=True)
class PeerConnected:
    """The TCP connection to ``peer`` is up (outbound: after a ``Connect``)."""

    peer: PeerId
    now: float
    inbound: bool = False


@dataclass(frozen=True, slots=True)
class ConnectFailed:
    """A ``Connect`` could not be completed (refused, unreachable, resolver error)."""

    peer: PeerId
    reason: str
    now: float


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A complete, decoded message from ``peer``."""

    peer: PeerId
    message: Message
    now: float


@dataclass(frozen=True, slots=True)
class PeerDisconnected:
    """The connection ended: closed by the peer, a socket error, or a framing error.

    ``reason`` is a short bounded tag (``"eof"``, ``"reset"``, ``"protocol-error"``...)
    fit for a metric label.
    """

    peer: PeerId
    reason: str
    now: float


@dataclass(frozen=True, slots=True)
class AddressesLearned:
    """Candidate peer addresses (DNS seed results, configuration, ``addr``)."""

    addresses: tuple[PeerAddress, ...]
    now: float


@dataclass(frozen=True, slots=True)
class BanLifted:
    """The operator lifted the ban of ``address`` (the persistent list is already
    updated): it may be dialled again at once."""

    address: PeerAddress
    now: float


@dataclass(frozen=True, slots=True)
class Resume:
    """Carry on with ``peer``'s message, as a ``Continue`` asked."""

    peer: PeerId
    now: float


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed; deliver at least every ``TICK_INTERVAL`` seconds."""

    now: float


Event = (PeerConnected | ConnectFailed | MessageReceived | PeerDisconnected
         | AddressesLearned | BanLifted | Resume | Tick)
