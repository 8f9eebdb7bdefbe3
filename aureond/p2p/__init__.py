"""Peer and header-sync logic as sans-I/O state machines, and the driver's contract.

The core (:class:`~aureond.p2p.node.P2PProtocol`) owns no socket, timer, clock or
random source of its own: the driver feeds it events and carries out the actions it
returns, in order, before feeding the next event.

Events (``aureond.p2p.events``), each stamped with ``now`` = the clock's ``wall()``:

* ``Tick(now)``: at least every ``TICK_INTERVAL`` (1 s) while running; all timeouts
  (handshake, ping, getheaders, connect, backoff, stale tip) advance on ticks.
* ``PeerConnected(peer, now, inbound)``: an outbound ``Connect`` succeeded, or an
  inbound connection arrived (the driver numbers those with negative slots).
* ``ConnectFailed(peer, reason, now)``: an outbound ``Connect`` failed.
* ``MessageReceived(peer, message, now)``: a frame decoded with ``aureond.wire``.
* ``PeerDisconnected(peer, reason, now)``: the connection ended, including when the
  framing or message decoder raised ``RemoteProtocolError`` (the driver closes the
  socket and reports ``reason="protocol-error"``); never for a ``Disconnect`` the core
  asked for (reporting it anyway is harmless: unknown peers are ignored).
* ``AddressesLearned(addresses, now)``: DNS seed results and the like.
* ``BanLifted(address, now)``: the operator lifted a ban (``P2PDriver.deliver``); the
  address may be dialled again at once.

Actions (``aureond.p2p.actions``):

* ``Send(peer, message)``: ``encode_message(message, params.magic,
  max_payload=params.max_payload)`` and write it; drop it if the peer is gone.
* ``Connect(peer)``: open TCP to ``peer.address`` (bounded by ``CONNECT_TIMEOUT``;
  the core also times out on its own) and report ``PeerConnected`` or ``ConnectFailed``
  with that same ``peer``.
* ``Disconnect(peer, reason, ban_seconds)``: close the connection or abandon the
  attempt; if ``ban_seconds`` is set, persist the ban (``PeerBook.ban(peer.address,
  reason, ban_seconds)``). The core has already forgotten the peer.
* ``NeedAddresses()``: resolve the DNS seeds (unless peers were given explicitly) and
  report them with ``AddressesLearned``.
* Everything else is a notification for metrics and logs (``TipUpdated``,
  ``HeadersRejected``, ``PeerMisbehaved``, ``Stalled``, ``StaleTip``,
  ``RequestCompleted``, ``SyncStateChanged``, ``HandshakeCompleted``). Their
  ``reason``/``message`` fields are bounded tags; ``PeerId`` values are never labels.

The chain the core writes to (``HeaderChain``) does blocking disk I/O inside
``handle``; a driver that cannot afford that runs ``handle`` in one worker thread, still
strictly one event at a time.
"""

from __future__ import annotations

from aureond.p2p.actions import (
    Action,
    Connect,
    Disconnect,
    HandshakeCompleted,
    HeadersRejected,
    NeedAddresses,
    PeerMisbehaved,
    RequestCompleted,
    Send,
    StaleTip,
    Stalled,
    SyncState,
    SyncStateChanged,
    TipUpdated,
)
from aureond.p2p.events import (
    AddressesLearned,
    BanLifted,
    ConnectFailed,
    Event,
    MessageReceived,
    PeerConnected,
    PeerDisconnected,
    PeerId,
    Tick,
)
from aureond.p2p.handshake import HandshakeConfig
from aureond.p2p.manager import PeerManager, backoff_from_policy, capped_backoff
from aureond.p2p.node import TICK_INTERVAL, P2PProtocol, PeerSummary
from aureond.p2p.sync import SyncStatus

__all__ = [
    "TICK_INTERVAL",
    "Action",
    "AddressesLearned",
    "BanLifted",
    "Connect",
    "ConnectFailed",
    "Disconnect",
    "Event",
    "HandshakeCompleted",
    "HandshakeConfig",
    "HeadersRejected",
    "MessageReceived",
    "NeedAddresses",
    "P2PProtocol",
    "PeerConnected",
    "PeerDisconnected",
    "PeerId",
    "PeerManager",
    "PeerMisbehaved",
    "PeerSummary",
    "RequestCompleted",
    "Send",
    "StaleTip",
    "Stalled",
    "SyncState",
    "SyncStateChanged",
    "SyncStatus",
    "Tick",
    "TipUpdated",
    "backoff_from_policy",
    "capped_backoff",
]
