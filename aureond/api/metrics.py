"""The API's Prometheus metrics.

The latency histogram ``aureond_http_request_duration_seconds{route}`` and
``aureond_proofs_verified_total{result}`` belong to the node's metric set
(:class:`aureond.monitoring.prometheus.NodeMetrics`): when the daemon passes its
``NodeMetrics`` as ``sink`` the API reports into it; without one (tests, a stand-alone
app) the API registers the same two metrics itself. The API always adds
``aureond_http_requests_total{route,status_class}``, and for its connections
``aureond_http_client_aborts_total{route}`` (requests whose client hung up before the
answer: not the node's errors), ``aureond_http_connections`` (open now),
``aureond_http_connections_limit`` (the cap) and
``aureond_http_connections_closed_total{reason}`` (closed by the node; a reason is one
of :data:`CLOSE_REASONS`).

Labels stay bounded: ``route`` is the route template (``/v1/headers/{ref}``), never the
raw path, and a request no route matched is ``unmatched``; ``status_class`` is ``1xx``
.. ``5xx``; a proof ``result`` is one of :data:`PROOF_RESULTS`.
"""

from __future__ import annotations

from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from aureond.monitoring.prometheus import HTTP_REQUEST_BUCKETS, PROOF_RESULTS

__all__ = ["CLOSE_REASONS", "PROOF_RESULTS", "UNMATCHED_ROUTE", "ApiMetrics", "HttpMetricsSink"]

UNMATCHED_ROUTE = "unmatched"
CLOSE_REASONS = ("head_timeout", "body_timeout", "idle_timeout", "send_timeout",
                 "evicted", "over_capacity", "bad_request")
"""Why the node closed a connection: a request head, a body or an answer that took too
long; idle too long; evicted to make room for a new connection at the cap; refused at
the cap with every connection busy; an unparsable request."""


class HttpMetricsSink(Protocol):
    """The part of ``NodeMetrics`` the API reports into."""

    def observe_http_request(self, route: str, seconds: float) -> None: ...

    def on_proof_verified(self, result: str) -> None: ...


class _OwnMetrics:
    """The sink's two metrics on our own registry, for an app without ``NodeMetrics``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._duration = Histogram(
            "aureond_http_request_duration_seconds",
            "HTTP request handling time, by route template.", ["route"],
            buckets=HTTP_REQUEST_BUCKETS, registry=registry)
        self._proofs = Counter("aureond_proofs_verified", "Merkle proofs checked, by result.",
                               ["result"], registry=registry)
        for result in PROOF_RESULTS:
            self._proofs.labels(result=result)

    def observe_http_request(self, route: str, seconds: float) -> None:
        self._duration.labels(route=route).observe(seconds)

    def on_proof_verified(self, result: str) -> None:
        self._proofs.labels(result=result).inc()


class ApiMetrics:
    """Request latency and counts by route, and proof results (see the module doc)."""

    def __init__(self, registry: CollectorRegistry, sink: HttpMetricsSink | None = None) -> None:
        self._sink: HttpMetricsSink = sink if sink is not None else _OwnMetrics(registry)
        self.requests = Counter(
            "aureond_http_requests",
            "HTTP requests answered, by route template and status class.",
            ["route", "status_class"], registry=registry)
        self.client_aborts = Counter(
            "aureond_http_client_aborts",
            "Requests whose client hung up before the answer, by route template.",
            ["route"], registry=registry)
        self.connections = Gauge("aureond_http_connections", "Open HTTP connections.",
                                 registry=registry)
        self.connections_limit = Gauge(
            "aureond_http_connections_limit",
            "Open HTTP connections allowed (http.max_connections, or derived from the "
            "open-file limit).", registry=registry)
        self.connections_closed = Counter(
            "aureond_http_connections_closed",
            "HTTP connections the node closed, by reason.", ["reason"], registry=registry)
        for reason in CLOSE_REASONS:
            self.connections_closed.labels(reason=reason)

    def observe(self, route: str, status: int, seconds: float) -> None:
        """Record one answered request."""
        self._sink.observe_http_request(route, seconds)
        self.count(route, status)

    def count(self, route: str, status: int) -> None:
        """Count one answer given outside the middleware chain (no latency sample)."""
        self.requests.labels(route=route,
                             status_class=f"{min(max(status // 100, 1), 5)}xx").inc()

    def client_abort(self, route: str) -> None:
        self.client_aborts.labels(route=route).inc()

    def connection_closed(self, reason: str) -> None:
        """Count one connection the node closed; ``reason`` is one of CLOSE_REASONS."""
        self.connections_closed.labels(reason=reason).inc()

    def proof(self, result: str) -> None:
        """Count one proof check; ``result`` is one of :data:`PROOF_RESULTS`."""
        self._sink.on_proof_verified(result)
