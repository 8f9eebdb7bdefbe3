"""An endpoint declaration, and the typed keys of the application's state.

Each area of the API (health, chain, peers, proofs, and later accounts and state
snapshots) is a module under :mod:`aureond.api.routes` exposing ``ENDPOINTS``, a tuple
of :class:`Endpoint`. ``create_app`` registers the areas it is given; ``GET /`` lists
what was registered; the auth middleware reads ``changes_state`` from here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web
from prometheus_client import CollectorRegistry

from aureond.api.metrics import ApiMetrics
from aureond.api.settings import ApiSettings
from aureond.api.view import NodeView
from aureond.clock import Clock
from aureond.resilience import KeyedBuckets

__all__ = [
    "CLOCK_KEY",
    "ENDPOINTS_KEY",
    "LIMITER_KEY",
    "METRICS_KEY",
    "OUTCOMES_KEY",
    "REGISTRY_KEY",
    "SETTINGS_KEY",
    "VIEW_KEY",
    "MONITORING_LIMITER_KEY",
    "Endpoint",
    "ExpectHandler",
    "Handler",
    "RequestOutcomes",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ExpectHandler = Callable[[web.Request], Awaitable[web.StreamResponse | None]]

_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One route: method, path template, handler and a one-line summary for ``GET /``.

    ``read_only`` marks a POST that changes nothing (a computation on the body, like a
    proof check): it stays open like the reads. ``monitoring`` marks what probes and
    scrapers ask (``/health*``, ``/metrics``): it has its own rate budget.
    """

    method: str
    path: str
    handler: Handler
    summary: str
    read_only: bool = False
    monitoring: bool = False

    @property
    def changes_state(self) -> bool:
        """True when the request needs the bearer token beyond loopback."""
        return self.method in _UNSAFE_METHODS and not self.read_only


class RequestOutcomes(Protocol):
    """Where the API reports whether it answered a request properly.

    :class:`aureond.monitoring.error_rate.ErrorRateTracker` fits. Deliberate 4xx and
    503 answers (bad input, not ready yet) are successes of the node: only unexpected
    failures are reported as errors.
    """

    def record_success(self) -> None: ...

    def record_error(self, error_type: str) -> None: ...


VIEW_KEY = web.AppKey[NodeView]("aureond_view")
SETTINGS_KEY = web.AppKey("aureond_api_settings", ApiSettings)
METRICS_KEY = web.AppKey("aureond_api_metrics", ApiMetrics)
REGISTRY_KEY = web.AppKey("aureond_registry", CollectorRegistry)
CLOCK_KEY = web.AppKey[Clock]("aureond_clock")
LIMITER_KEY = web.AppKey[KeyedBuckets[str]]("aureond_http_limiter")
MONITORING_LIMITER_KEY = web.AppKey[KeyedBuckets[str]]("aureond_http_monitoring_limiter")
OUTCOMES_KEY = web.AppKey[RequestOutcomes | None]("aureond_request_outcomes")
ENDPOINTS_KEY = web.AppKey[Mapping[web.AbstractRoute, Endpoint]]("aureond_endpoints")
