"""What the node does with the P2P core's notifications: metrics, health inputs, logs.

``ObservedCore`` wraps the sans-I/O core so that events going in and commands coming
out are counted too (connection failures, disconnect reasons) without the core knowing
about Prometheus or logging. It also keeps each outbound address's recovery context
(``/v1/peers`` ``recovery``): the driver records TCP connect attempts and their errors;
here a connection that ends (a failed handshake, a lost peer) is recorded with the
class of its reason, and a completed handshake ends the recovery.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from aureond.chain.tree import Node, TipChanged
from aureond.clock import Clock
from aureond.monitoring.error_rate import ErrorRateTracker
from aureond.monitoring.latency import LatencyTracker
from aureond.monitoring.prometheus import NodeMetrics
from aureond.monitoring.throughput import ThroughputTracker
from aureond.p2p.actions import (
    Action,
    Disconnect,
    HandshakeCompleted,
    HeadersRejected,
    Notification,
    PeerMisbehaved,
    RequestCompleted,
    StaleTip,
    Stalled,
    SyncState,
    SyncStateChanged,
    TipUpdated,
)
from aureond.p2p.durable import DurableHeaders
from aureond.p2p.events import ConnectFailed, Event, PeerConnected, PeerDisconnected, PeerId
from aureond.p2p.node import P2PProtocol
from aureond.p2p.timeoffsets import TimeOffsets
from aureond.resilience.classify import ErrorClass
from aureond.resilience.recovery import RecoveryBook
from aureond.store.peers import PeerAddress, PeerBook

__all__ = ["NodeObserver", "ObservedCore"]

log = structlog.get_logger("aureond.node")

PROGRESS_LOG_INTERVAL = 10.0
"""Seconds between sync progress lines while many headers arrive. The tip a sync ends
at is logged when it ends, so the last ``chain.tip`` before ``sync.state synced`` is the
synced height."""
END_CLASSES = {"handshake-timeout": ErrorClass.TIMEOUT, "connect-timeout": ErrorClass.TIMEOUT,
               "ping-timeout": ErrorClass.TIMEOUT, "eof": ErrorClass.TEMPORARY,
               "reset": ErrorClass.TEMPORARY, "send-queue-full": ErrorClass.TEMPORARY,
               "stale-tip-rotation": ErrorClass.TEMPORARY}
"""The error class of a connection's end, by reason; any other reason (a protocol
error, a refused version, misbehaviour) is PERMANENT."""


class NodeObserver:
    """Turns notifications into metrics, error-rate samples and log lines."""

    def __init__(self, *, metrics: NodeMetrics, errors: ErrorRateTracker,
                 latency: LatencyTracker, headers: ThroughputTracker, peerbook: PeerBook,
                 protocol: P2PProtocol, clock: Clock, durable: DurableHeaders,
                 on_tip: Callable[[TipChanged], None] | None = None) -> None:
        self._metrics = metrics
        self._errors = errors
        self._latency = latency
        self._headers = headers
        self._peerbook = peerbook
        self._protocol = protocol
        self._clock = clock
        self._durable = durable
        self._on_tip = on_tip
        self._last_progress = -1e18
        self._tip: Node | None = None     # the tip of the last TipUpdated
        self._logged_tip: Node | None = None  # the tip of the last chain.tip line
        self.connected_at: dict[int, float] = {}
        self.time_offsets = TimeOffsets()

    def __call__(self, note: Notification) -> None:
        match note:
            case TipUpdated(result=result):
                tip = result.tip
                self._metrics.on_tip_changed(tip.height, tip.time)
                self._metrics.on_headers_processed("accepted", len(result.connected))
                self._headers.record(len(result.connected))
                self._durable.note(len(result.connected))
                self._errors.record_success()
                if self._on_tip is not None:  # the state driver: new blocks, reorgs
                    self._on_tip(result)
                if result.is_reorg:
                    self._metrics.on_reorg(result.depth)
                    log.warning("chain.reorg", depth=result.depth,
                                fork_height=result.fork_height, new_height=tip.height,
                                reverted=len(result.reverted),
                                connected=len(result.connected))
                self._tip = tip
                now = self._clock.monotonic()
                if len(result.connected) == 1 or now - self._last_progress >= \
                        PROGRESS_LOG_INTERVAL:
                    self._last_progress = now
                    self._log_tip(tip)
            case HeadersRejected(peer=peer, reason=reason, height=height):
                self._metrics.on_header_rejected(reason)
                self._errors.record_error("invalid-headers")
                log.warning("chain.headers_rejected", peer=str(peer), reason=reason,
                            height=height)
            case PeerMisbehaved(peer=peer, reason=reason, score=score):
                self._errors.record_error("misbehaviour")
                log.warning("p2p.misbehaved", peer=str(peer), reason=reason, score=score)
            case Stalled(peer=peer, request=request):
                self._errors.record_error("stall")
                log.warning("p2p.stalled", peer=str(peer), request=request)
            case StaleTip(tip_height=height, age=age):
                log.warning("chain.stale_tip", height=height, age_seconds=round(age))
            case RequestCompleted(message=message, seconds=seconds):
                self._metrics.observe_peer_request(message, seconds)
                self._latency.observe(f"peer.{message}", seconds)
                self._errors.record_success()
            case SyncStateChanged(state=state):
                self._log_sync_state(state)
            case HandshakeCompleted(peer=peer, user_agent=agent, start_height=height,
                                    clock_offset=offset):
                self.time_offsets.add(str(peer.address), offset)
                median = self.time_offsets.median()
                if median is not None:
                    self._metrics.clock_offset.set(median)
                self._peerbook.succeeded(peer.address)
                self.connected_at[peer.slot] = self._clock.wall()
                self._metrics.on_best_peer_height(self._protocol.sync.best_peer_height)
                self._errors.record_success()
                log.info("p2p.connected", peer=str(peer), user_agent=agent,
                         start_height=height, clock_offset=round(offset, 1))

    def _best_peer_height(self) -> int | None:
        best = self._protocol.sync.best_peer_height
        return best if best > 0 else None

    def _log_tip(self, tip: Node) -> None:
        self._logged_tip = tip
        log.info("chain.tip", height=tip.height, hash=tip.hash[::-1].hex(),
                 best_peer_height=self._best_peer_height())

    def _log_sync_state(self, state: SyncState) -> None:
        """``sync.state`` with the tip height; a sync that ends logs its tip first."""
        tip = self._tip
        if state is SyncState.SYNCED and tip is not None and tip is not self._logged_tip:
            self._log_tip(tip)
        height = self._protocol.status(self._clock.wall()).tip_height
        best = self._best_peer_height()
        progress = None if best is None else round(min(1.0, height / best), 4)
        log.info("sync.state", state=state.value, height=height, best_peer_height=best,
                 progress=progress)


class ObservedCore:
    """The P2P core with its inputs and commands counted on the way through."""

    def __init__(self, core: P2PProtocol, metrics: NodeMetrics, errors: ErrorRateTracker,
                 peerbook: PeerBook, observer: NodeObserver,
                 recovery: RecoveryBook[PeerAddress] | None = None) -> None:
        self._core = core
        self._metrics = metrics
        self._errors = errors
        self._peerbook = peerbook
        self._observer = observer
        self._recovery = recovery
        self._stages: dict[PeerId, str] = {}  # outbound connections up, by stage

    def _ended(self, peer: PeerId, reason: str) -> None:
        stage = self._stages.pop(peer, None)
        if self._recovery is None or stage is None:
            return  # a failed connect (the driver recorded it), or an inbound peer
        self._recovery.failed_as(peer.address, END_CLASSES.get(reason, ErrorClass.PERMANENT),
                                 "PeerDisconnected", f"{stage} ended: {reason}")

    def handle(self, event: Event) -> list[Action]:
        if isinstance(event, PeerDisconnected):
            self._ended(event.peer, event.reason)
        elif isinstance(event, PeerConnected) and not event.inbound:
            self._stages[event.peer] = "handshake"
        match event:
            case ConnectFailed(peer=peer, reason=reason):
                self._errors.record_error("connect")
                self._peerbook.failed(peer.address)
                log.info("p2p.connect_failed", peer=str(peer), reason=reason)
            case PeerDisconnected(peer=peer, reason=reason):
                self._metrics.on_peer_disconnected(reason)
                self._observer.connected_at.pop(peer.slot, None)
                log.info("p2p.disconnected", peer=str(peer), reason=reason)
            case _:
                pass
        actions = self._core.handle(event)
        for action in actions:
            if isinstance(action, Disconnect):
                self._metrics.on_peer_disconnected(action.reason)
                self._observer.connected_at.pop(action.peer.slot, None)
                self._ended(action.peer, action.reason)
            elif isinstance(action, HandshakeCompleted) and action.peer in self._stages:
                self._stages[action.peer] = "connection"
                if self._recovery is not None:
                    self._recovery.recovered(action.peer.address)
        return actions
