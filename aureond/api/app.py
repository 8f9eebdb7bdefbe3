"""The aiohttp application: ``create_app`` builds it, ``start_http`` serves it.

Typed state lives under the ``web.AppKey`` keys of :mod:`aureond.api.endpoint`; the
routes reach the node only through :class:`~aureond.api.view.NodeView`. ``start_http``
puts the connection guard of :mod:`aureond.api.connections` in front of the app.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry

from aureond.api.activity import RequestActivity
from aureond.api.auth import is_loopback
from aureond.api.connections import (
    ConnectionGuard,
    ConnectionLimits,
    connection_cap,
    open_file_limit,
)
from aureond.api.endpoint import (
    CLOCK_KEY,
    ENDPOINTS_KEY,
    LIMITER_KEY,
    METRICS_KEY,
    MONITORING_LIMITER_KEY,
    OUTCOMES_KEY,
    REGISTRY_KEY,
    SETTINGS_KEY,
    VIEW_KEY,
    Endpoint,
    RequestOutcomes,
)
from aureond.api.metrics import ApiMetrics, HttpMetricsSink
from aureond.api.middleware import build_middlewares, expect_handler
from aureond.api.routes import DEFAULT_AREAS
from aureond.api.server import GuardedSite, runner_options
from aureond.api.settings import ApiSettings
from aureond.api.view import NodeView
from aureond.clock import Clock
from aureond.errors import ConfigError
from aureond.resilience import KeyedBuckets

__all__ = ["HTTP_LIMITER_NAME", "MONITORING_LIMITER_NAME", "create_app", "start_http"]

_log = structlog.get_logger("aureond.api")

HTTP_LIMITER_NAME = "http"
"""The rate limiter's name: its ``limiter`` label in ``aureond_rate_limited_total``."""
MONITORING_LIMITER_NAME = "http-monitoring"
"""The monitoring routes' limiter (``/health*``, ``/metrics``), apart from the rest."""


def create_app(view: NodeView, registry: CollectorRegistry, clock: Clock,
               settings: ApiSettings | None = None, *,
               outcomes: RequestOutcomes | None = None,
               node_metrics: HttpMetricsSink | None = None,
               areas: Iterable[Iterable[Endpoint]] = DEFAULT_AREAS,
               activity: RequestActivity | None = None) -> web.Application:
    """Build the application.

    ``registry`` is what ``/metrics`` exposes. ``node_metrics`` is the node's
    ``NodeMetrics`` on that registry (the API reports request latency and proof results
    into it; without it the API registers those metrics itself). ``clock`` drives the
    rate limiter and request timing. ``outcomes`` (an ``ErrorRateTracker``) learns which
    requests failed unexpectedly. ``areas`` are the endpoint groups to serve.
    ``activity`` learns when each request starts (the P2P driver gives way to it).

    The per-client limiters are ``app[LIMITER_KEY]`` and, for ``/health*`` and
    ``/metrics``, ``app[MONITORING_LIMITER_KEY]``: give them to
    ``ResilienceMetrics.watch_bucket`` to count refusals.
    """
    settings = settings if settings is not None else ApiSettings()
    metrics = ApiMetrics(registry, node_metrics)
    limiter: KeyedBuckets[str] = KeyedBuckets(
        settings.rate_burst, settings.rate_per_second, clock, name=HTTP_LIMITER_NAME,
        max_keys=settings.rate_max_clients)
    monitoring: KeyedBuckets[str] = KeyedBuckets(
        settings.monitoring_rate_burst, settings.monitoring_rate_per_second, clock,
        name=MONITORING_LIMITER_NAME, max_keys=settings.rate_max_clients)
    endpoints: dict[web.AbstractRoute, Endpoint] = {}
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=build_middlewares(settings=settings, metrics=metrics, clock=clock,
                                      limiter=limiter, endpoints=endpoints,
                                      outcomes=outcomes, activity=activity,
                                      monitoring_limiter=monitoring))
    expect = expect_handler(settings, metrics)
    for area in areas:
        for endpoint in area:
            route = app.router.add_route(endpoint.method, endpoint.path, endpoint.handler,
                                         expect_handler=expect)
            endpoints[route] = endpoint
    app[VIEW_KEY] = view
    app[SETTINGS_KEY] = settings
    app[METRICS_KEY] = metrics
    app[REGISTRY_KEY] = registry
    app[CLOCK_KEY] = clock
    app[LIMITER_KEY] = limiter
    app[MONITORING_LIMITER_KEY] = monitoring
    app[OUTCOMES_KEY] = outcomes
    app[ENDPOINTS_KEY] = endpoints
    return app


async def start_http(app: web.Application, host: str, port: int, *,
                     access_log: logging.Logger | None = None,
                     shutdown_timeout: float = 5.0,
                     open_files: int | None = None) -> tuple[web.AppRunner, GuardedSite]:
    """Serve ``app`` on ``host:port`` (port 0: any free port, see ``runner.addresses``).

    Every connection goes through a :class:`~aureond.api.connections.ConnectionGuard`
    (``site.guard``) with the app's settings: at most ``max_connections`` open (0: the
    open-file limit, ``open_files`` or the process's, less ``fd_reserve``), and the
    head, body, idle and send deadlines.

    Refuses (``ConfigError``) a non-loopback ``host`` for an app built for loopback
    (no token), a connection cap the open-file limit cannot hold, and a port that
    cannot be bound. The access log is off unless a logger is given. Stop with
    ``await runner.cleanup()``: in-flight requests get ``shutdown_timeout`` seconds.
    """
    settings = app[SETTINGS_KEY]
    if not is_loopback(host) and not settings.auth_required:
        raise ConfigError("http.listen", f"the API was configured for loopback but is "
                          f"asked to bind {host}; build it with bind_host={host!r} and a "
                          "token")
    files = open_files if open_files is not None else open_file_limit()
    cap = connection_cap(settings.max_connections, settings.fd_reserve, files)
    metrics = app[METRICS_KEY]
    clock = app[CLOCK_KEY]
    guard = ConnectionGuard(
        ConnectionLimits(cap, head_timeout=settings.head_timeout,
                         body_timeout=settings.body_timeout,
                         idle_timeout=settings.idle_timeout,
                         send_timeout=settings.send_timeout),
        clock, on_close=metrics.connection_closed)
    metrics.connections_limit.set(cap)
    metrics.connections.set_function(lambda: guard.open)
    runner = web.AppRunner(
        app, access_log=access_log, shutdown_timeout=shutdown_timeout,
        **runner_options(idle_timeout=settings.idle_timeout,
                         body_timeout=settings.body_timeout,
                         on_bad_request=lambda: metrics.connection_closed("bad_request")))
    await runner.setup()
    site = GuardedSite(runner, host, port, guard=guard, clock=clock)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError("http.listen", f"cannot listen on {host}:{port}: "
                          f"{exc.strerror or exc}") from exc
    _log.info("http.listening", max_connections=cap, open_file_limit=files,
              fd_reserve=settings.fd_reserve, head_timeout=settings.head_timeout,
              body_timeout=settings.body_timeout, idle_timeout=settings.idle_timeout,
              send_timeout=settings.send_timeout)
    return runner, site
