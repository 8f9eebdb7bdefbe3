"""The node's Prometheus metrics, on a registry the caller owns.

:class:`NodeMetrics` creates every ``aureond_*`` metric of DESIGN.md "Metrics" on the
passed :class:`~prometheus_client.CollectorRegistry` (never the global default, so tests
and several nodes in one process do not collide) and offers one method per node event.

Units are base units (seconds, blocks as plain counts). Label values are bounded: each
label takes a known set of short tags, and anything else is counted as ``"other"``;
labels that name code-defined things (routes, health components) accept any tag up to
a cap of distinct values, then ``"other"``. No label ever carries an address, a txid or
a hash.

``aureond_health_status{component}`` is 0 for pass, 1 for warn, 2 for fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from aureond.errors import ConfigError
from aureond.monitoring.health import HealthReport, HealthStatus

__all__ = [
    "DISCONNECT_REASONS",
    "HEADER_REJECT_REASONS",
    "HEADER_RESULTS",
    "OTHER_LABEL",
    "PEER_MESSAGES",
    "PEER_STATES",
    "PROOF_RESULTS",
    "BoundedLabel",
    "NodeMetrics",
    "disconnect_class",
]

OTHER_LABEL = "other"

HEADER_RESULTS = frozenset({"accepted", "rejected", "duplicate", "unconnected"})
# The reasons of aureond.chain.rules, the header tree and the headers presync, headers
# that do not decode, and the low-work flood guard.
HEADER_REJECT_REASONS = frozenset({
    "bad-prevblk", "bad-bits-encoding", "bad-diffbits", "high-hash", "time-too-old",
    "time-too-new", "time-timewarp", "bad-version", "checkpoint", "fork-before-checkpoint",
    "encoding", "low-work", "presync-too-long", "presync-mismatch",
})
PEER_STATES = frozenset({"connecting", "handshaking", "connected", "disconnecting"})
DISCONNECT_REASONS = frozenset({
    # The connection ended under us (the P2P driver).
    "eof", "reset", "protocol-error", "send-queue-full",
    # An error of our own while handling the peer's messages (the store's is fatal).
    "internal-error", "store-error",
    # The handshake failed.
    "handshake-timeout", "self-connection", "obsolete-version", "missing-services",
    "verack-before-version",
    # Slots: a connect that took too long, a refused inbound, a rotated outbound peer.
    "connect-timeout", "inbound-refused", "unexpected-connection", "stale-tip-rotation",
    # An unanswered request.
    "ping-timeout", "headers-timeout", "block-stalled",
    # Misbehaviour: invalid-headers and bad-block are banned, useless-headers when it
    # repeats, the others only dropped.
    "invalid-headers", "bad-block", "unconnecting-headers", "low-work-flood",
    "low-work-chain", "presync-mismatch", "useless-headers",
})
"""The classes of ``aureond_peer_disconnects_total{reason}``: a disconnect reason is
a class (``handshake-timeout``) or ``class:detail`` (``invalid-headers:high-hash``,
whose rule is counted by ``aureond_header_rejects_total{reason}``); see
:func:`disconnect_class`. Every reason the node emits has its class here."""
PEER_MESSAGES = frozenset({"version", "ping", "getheaders", "getdata", "getcfheaders",
                           "getblocks", "merkleblock", "headers"})
PROOF_RESULTS = frozenset({"valid", "invalid", "malformed", "unknown-block"})

REORG_DEPTH_BUCKETS = (1, 2, 3, 4, 6, 10, 20, 50, 100, 1_000)
PEER_REQUEST_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
HTTP_REQUEST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                        1.0, 2.5, 5.0)


def disconnect_class(reason: str) -> str:
    """The class of a disconnect reason: the part before the first ``:``
    (``invalid-headers:high-hash`` is ``invalid-headers``); the label is this class
    when it is one of :data:`DISCONNECT_REASONS`, else ``"other"``."""
    return reason.partition(":")[0]


class BoundedLabel:
    """Keeps one label's values to a known set, or to ``cap`` distinct values.

    With ``allowed`` given, any other value is :data:`OTHER_LABEL`. Without it, the
    first ``cap`` distinct values are kept and later new ones become ``"other"``.
    """

    __slots__ = ("_allowed", "_cap", "_seen")

    def __init__(self, allowed: Iterable[str] | None = None, *, cap: int = 32) -> None:
        if cap < 1:
            raise ConfigError("cap", f"must be at least 1, got {cap}")
        self._allowed = frozenset(allowed) if allowed is not None else None
        self._cap = cap
        self._seen: set[str] = set()

    @property
    def known(self) -> frozenset[str]:
        return self._allowed if self._allowed is not None else frozenset(self._seen)

    def __call__(self, value: str) -> str:
        if self._allowed is not None:
            return value if value in self._allowed else OTHER_LABEL
        if value in self._seen or value == OTHER_LABEL:
            return value
        if not value or len(self._seen) >= self._cap:
            return OTHER_LABEL
        self._seen.add(value)
        return value


class NodeMetrics:
    """Every node metric on one registry, with a method per node event."""

    def __init__(self, registry: CollectorRegistry, *, version: str, network: str,
                 process_collectors: bool = True) -> None:
        self.registry = registry
        self._header_result = BoundedLabel(HEADER_RESULTS)
        self._reject_reason = BoundedLabel(HEADER_REJECT_REASONS)
        self._peer_state = BoundedLabel(PEER_STATES)
        self._disconnect_reason = BoundedLabel(DISCONNECT_REASONS)
        self._peer_message = BoundedLabel(PEER_MESSAGES)
        self._proof_result = BoundedLabel(PROOF_RESULTS)
        self._component = BoundedLabel(cap=16)
        self._route = BoundedLabel(cap=48)

        r = registry
        self.build_info = Info("aureond_build", "Build and network of this node.", registry=r)
        self.build_info.info({"version": version, "network": network})
        self.header_height = Gauge("aureond_header_height",
                                   "Height of the best header chain tip.", registry=r)
        self.best_peer_height = Gauge("aureond_best_peer_height",
                                      "Best height announced by a connected peer.", registry=r)
        self.clock_offset = Gauge("aureond_clock_offset_seconds",
                                  "Median of peers' version timestamps minus our clock.",
                                  registry=r)
        self.tip_timestamp = Gauge("aureond_tip_timestamp_seconds",
                                   "Header timestamp of the tip (Unix seconds).",
                                   unit="seconds", registry=r)
        self.headers_processed = Counter("aureond_headers_processed",
                                         "Headers processed, by result.", ["result"],
                                         registry=r)
        self.header_rejects = Counter("aureond_header_rejects",
                                      "Headers rejected, by rule.", ["reason"], registry=r)
        self.store_errors = Counter("aureond_store_errors",
                                    "Header store writes or fsyncs that failed.",
                                    registry=registry)
        self.reorgs = Counter("aureond_reorgs", "Reorganisations of the best chain.",
                              registry=r)
        self.reorg_depth = Histogram("aureond_reorg_depth",
                                     "Blocks disconnected by a reorganisation.",
                                     buckets=REORG_DEPTH_BUCKETS, registry=r)
        self.peers = Gauge("aureond_peers", "Peers, by connection state.", ["state"],
                           registry=r)
        self.peer_disconnects = Counter("aureond_peer_disconnects",
                                        "Peer disconnections, by reason.", ["reason"],
                                        registry=r)
        self.peer_request_duration = Histogram(
            "aureond_peer_request_duration_seconds",
            "Time from a request to a peer until its answer, by request message.",
            ["message"], buckets=PEER_REQUEST_BUCKETS, unit="seconds", registry=r)
        self.proofs_verified = Counter("aureond_proofs_verified",
                                       "Merkle proofs checked, by result.", ["result"],
                                       registry=r)
        self.health_status = Gauge("aureond_health_status",
                                   "Component health: 0 pass, 1 warn, 2 fail.", ["component"],
                                   registry=r)
        self.http_request_duration = Histogram(
            "aureond_http_request_duration_seconds",
            "HTTP request handling time, by route template.", ["route"],
            buckets=HTTP_REQUEST_BUCKETS, unit="seconds", registry=r)
        self.error_ratio = Gauge("aureond_error_ratio",
                                 "Share of failed operations over the recent window; NaN "
                                 "while it holds too few to judge (as /health).",
                                 registry=r)
        self.event_loop_lag = Gauge("aureond_event_loop_lag_seconds",
                                    "How late the last event-loop timer ran.",
                                    unit="seconds", registry=r)

        # Known label values exist from the start, so rate() and absent() behave.
        for result in HEADER_RESULTS:
            self.headers_processed.labels(result=result)
        for reason in HEADER_REJECT_REASONS | {OTHER_LABEL}:
            self.header_rejects.labels(reason=reason)
        for state in PEER_STATES:
            self.peers.labels(state=state).set(0)
        for reason in DISCONNECT_REASONS | {OTHER_LABEL}:
            self.peer_disconnects.labels(reason=reason)
        for result in PROOF_RESULTS:
            self.proofs_verified.labels(result=result)

        if process_collectors:
            ProcessCollector(registry=r)
            GCCollector(registry=r)
            PlatformCollector(registry=r)

    # -- chain -------------------------------------------------------------------
    def on_header_accepted(self, height: int, timestamp: int) -> None:
        """A header extended the best chain: it is the new tip."""
        self.headers_processed.labels(result="accepted").inc()
        self.on_tip_changed(height, timestamp)

    def on_tip_changed(self, height: int, timestamp: int) -> None:
        """The tip moved without a new header (start-up, reorg)."""
        self.header_height.set(height)
        self.tip_timestamp.set(timestamp)

    def on_header_rejected(self, reason: str) -> None:
        """A header broke a rule; ``reason`` is ``HeaderRejectedError.reason``."""
        self.headers_processed.labels(result="rejected").inc()
        self.header_rejects.labels(reason=self._reject_reason(reason)).inc()

    def on_headers_processed(self, result: str, count: int = 1) -> None:
        """Any other outcome, e.g. ``duplicate`` or ``unconnected``."""
        self.headers_processed.labels(result=self._header_result(result)).inc(count)

    def on_store_error(self) -> None:
        self.store_errors.inc()

    def on_reorg(self, depth: int) -> None:
        """The best chain switched branches, disconnecting ``depth`` blocks."""
        self.reorgs.inc()
        self.reorg_depth.observe(depth)

    def on_best_peer_height(self, height: int) -> None:
        self.best_peer_height.set(height)

    # -- peers -------------------------------------------------------------------
    def set_peer_counts(self, counts: Mapping[str, int]) -> None:
        """Peers per state; known states not given are set to 0."""
        totals = dict.fromkeys(PEER_STATES, 0)
        for state, count in counts.items():
            label = self._peer_state(state)
            totals[label] = totals.get(label, 0) + count
        for state, count in totals.items():
            self.peers.labels(state=state).set(count)

    def on_peer_disconnected(self, reason: str) -> None:
        """A peer was dropped or went away; counted under ``disconnect_class(reason)``."""
        label = self._disconnect_reason(disconnect_class(reason))
        self.peer_disconnects.labels(reason=label).inc()

    def observe_peer_request(self, message: str, seconds: float) -> None:
        """A request of type ``message`` (e.g. ``getheaders``) was answered."""
        self.peer_request_duration.labels(message=self._peer_message(message)).observe(seconds)

    # -- API and proofs ----------------------------------------------------------
    def on_proof_verified(self, result: str) -> None:
        """``valid``, ``invalid``, ``malformed`` or ``unknown-block``."""
        self.proofs_verified.labels(result=self._proof_result(result)).inc()

    def observe_http_request(self, route: str, seconds: float) -> None:
        """``route`` is the route template (``/v1/headers/{height}``), never the path."""
        self.http_request_duration.labels(route=self._route(route)).observe(seconds)

    # -- health ------------------------------------------------------------------
    def set_health(self, component: str, status: HealthStatus) -> None:
        self.health_status.labels(component=self._component(component)).set(status.severity)

    def observe_health(self, report: HealthReport) -> None:
        """Export each component's worst status from a dashboard evaluation."""
        for component, status in report.component_statuses().items():
            self.set_health(component, status)

    def set_error_ratio(self, ratio: float) -> None:
        self.error_ratio.set(ratio)

    def bind_error_ratio(self, source: Callable[[], float]) -> None:
        """Read the ratio from ``source`` at every scrape instead of pushing it."""
        self.error_ratio.set_function(source)

    def set_event_loop_lag(self, seconds: float) -> None:
        self.event_loop_lag.set(seconds)


