"""Outputs of the P2P protocol core: commands for the driver, and notifications.

Commands (``Send``, ``Connect``, ``Disconnect``, ``NeedAddresses``) must be carried out
by the driver; notifications are facts for metrics and logs (their ``reason`` fields
are short bounded tags, fit for metric labels; a ``PeerId`` never is).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aureond.chain.tree import TipChanged
from aureond.p2p.events import PeerId
from aureond.wire import Message

__all__ = [
    "Action",
    "Command",
    "Connect",
    "Continue",
    "Disconnect",
    "HandshakeCompleted",
    "HeadersRejected",
    "NeedAddresses",
    "Notification",
    "PeerMisbehaved",
    "RequestCompleted",
    "Send",
    "StaleTip",
    "Stalled",
    "SyncState",
    "SyncStateChanged",
    "TipUpdated",
]


# --- commands -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Send:
    """Encode ``message`` for the network and write it to ``peer``."""

    peer: PeerId
    message: Message


@dataclass(frozen=True, slots=True)
class Connect:
    """Open an outbound connection to ``peer.address``; report the outcome for ``peer``."""

    peer: PeerId


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Close the connection to ``peer`` (or abandon the attempt).

    With ``ban_seconds``, also ban the address for that long in the persistent ban
    list, with ``reason``. The core has already forgotten the peer: events that still
    arrive for it are ignored.
    """

    peer: PeerId
    reason: str
    ban_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class Continue:
    """Part of ``peer``'s last message is still to be processed: give the event loop a
    turn, then deliver ``Resume(peer)``; deliver no other message of ``peer`` before
    that (other peers, timers and the rest of the process may run)."""

    peer: PeerId


@dataclass(frozen=True, slots=True)
class NeedAddresses:
    """Fewer outbound peers than wanted and no usable address: query the DNS seeds."""


# --- notifications --------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class HandshakeCompleted:
    """``peer`` finished version/verack: what it told us about itself."""

    peer: PeerId
    version: int
    services: int
    user_agent: str
    start_height: int
    clock_offset: float = 0.0
    """Its ``version`` timestamp minus our clock when the version arrived, seconds."""


@dataclass(frozen=True, slots=True)
class TipUpdated:
    """The best tip moved; ``result`` has the reverted and connected headers."""

    result: TipChanged


@dataclass(frozen=True, slots=True)
class HeadersRejected:
    """Headers from ``peer`` broke a rule ``reason`` at ``height`` (None: undecodable)."""

    peer: PeerId
    reason: str
    height: int | None


@dataclass(frozen=True, slots=True)
class PeerMisbehaved:
    """``peer`` broke the protocol; ``score`` 100 means it was banned for it."""

    peer: PeerId
    reason: str
    score: int


@dataclass(frozen=True, slots=True)
class Stalled:
    """``peer`` did not answer a request in time; sync moves to another peer."""

    peer: PeerId
    request: str


@dataclass(frozen=True, slots=True)
class StaleTip:
    """No new best header for a while and the tip is older than the stale age."""

    tip_height: int
    tip_time: int
    age: float


@dataclass(frozen=True, slots=True)
class RequestCompleted:
    """A request to a peer was answered after ``seconds`` (``message``: its command)."""

    peer: PeerId
    message: str
    seconds: float


class SyncState(StrEnum):
    """Where header sync stands: the one vocabulary of the sync core's notifications,
    ``/health/ready``, ``/v1/status`` and the CLI.

    The values are the HTTP contract's words. The sync core classifies from what it
    knows (peers, the sync peer, chain work); ``aureond.api.readiness.assess_sync``
    classifies what the node reports, adding the tip's age.
    """

    CONNECTING = "no-peers"
    """No peer has finished the handshake: nothing to sync from yet."""
    INITIAL_SYNC = "initial-sync"
    """Peers know more headers than we have, and one of them is serving them."""
    SYNCED = "synced"
    """Within one header of the best peer (and, for the core, the minimum chain work)."""
    STALLED = "stalled"
    """Behind with no peer serving what is missing, or (as reported) a stale tip."""


@dataclass(frozen=True, slots=True)
class SyncStateChanged:
    """The sync state changed; ``progress`` is tip height / best peer height in [0, 1]."""

    state: SyncState
    progress: float


Command = Send | Connect | Disconnect | NeedAddresses | Continue
Notification = (HandshakeCompleted | TipUpdated | HeadersRejected | PeerMisbehaved
                | Stalled | StaleTip | RequestCompleted | SyncStateChanged)
Action = Command | Notification
