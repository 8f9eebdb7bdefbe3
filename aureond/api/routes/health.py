"""``/health`` (the health-check draft's document), ``/health/live``, ``/health/ready``.

``/health`` answers 200 for pass and warn, 503 for fail. ``/health/live`` answers 200
whenever the event loop runs this handler. ``/health/ready`` answers 200 only when the
node is synced; otherwise 503 with the state (``initial-sync`` with its progress,
``stalled``, ``no-peers``) and the reasons.
"""

from __future__ import annotations

from aiohttp import web

from aureond.api.endpoint import VIEW_KEY, Endpoint
from aureond.api.jsonio import json_response
from aureond.api.render import sync_json
from aureond.monitoring.health import HEALTH_MEDIA_TYPE

__all__ = ["ENDPOINTS"]


async def health(request: web.Request) -> web.Response:
    report = request.app[VIEW_KEY].health()
    return json_response(report.to_health_json(), report.http_status,
                         content_type=HEALTH_MEDIA_TYPE)


async def live(_request: web.Request) -> web.Response:
    return json_response({"status": "alive"})


async def ready(request: web.Request) -> web.Response:
    sync = request.app[VIEW_KEY].sync()
    body = {"status": "ready" if sync.ready else "not_ready", **sync_json(sync)}
    return json_response(body, 200 if sync.ready else 503)


ENDPOINTS = (
    Endpoint("GET", "/health", health,
             "Component health (application/health+json); 503 when failing.",
             monitoring=True),
    Endpoint("GET", "/health/live", live, "200 while the process and its loop respond.",
             monitoring=True),
    Endpoint("GET", "/health/ready", ready, "200 only when synced; 503 with the reasons.",
             monitoring=True),
)
