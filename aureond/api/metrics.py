"""The API's Prometheus metrics.

The latency histogram ``aureond_http_request_duration_seconds{route}`` and
``aureond_proofs_verified_total{result}`` belong to the node's metric set
(:class:`aureond.monitoring.prometheus.NodeMetrics`): when the daemon passes its
``NodeMetrics`` as ``sink`` the API reports into it; without one (tests, a stand-alone
app) the API registers the same two metrics itself. The API always adds
``aureond_http_requests_total{route,status_class}``.

Labels stay bounded: ``route`` is the route template (``/v1/headers/{ref}``), never the
raw path, and a request no route matched is ``unmatched``; ``status_class`` is ``1xx``
.. ``5xx``; a proof ``result`` is one of :data:`PROOF_RESULTS`.
"""

from __future__ import annotations

from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram

from aureond.monitoring.prometheus import HTTP_REQUEST_BUCKETS, PROOF_RESULTS

__all__ = ["PROOF_RESULTS", "UNMATCHED_ROUTE", "ApiMetrics", "HttpMetricsSink"]

UNMATCHED_ROUTE = "unmatched"


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

    def observe(self, route: str, status: int, seconds: float) -> None:
        """Record one answered request."""
        self._sink.observe_http_request(route, seconds)
        self.requests.labels(route=route,
                             status_class=f"{min(max(status // 100, 1), 5)}xx").inc()

    def proof(self, result: str) -> None:
        """Count one proof check; ``result`` is one of :data:`PROOF_RESULTS`."""
        self._sink.on_proof_verified(result)
