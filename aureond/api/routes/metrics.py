"""``GET /metrics``: the registry in Prometheus text format, or OpenMetrics on request."""

from __future__ import annotations

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from aureond.api.endpoint import REGISTRY_KEY, Endpoint

__all__ = ["ENDPOINTS"]


async def metrics(request: web.Request) -> web.Response:
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = encoder(request.app[REGISTRY_KEY])
    return web.Response(body=body, headers={"Content-Type": content_type})


ENDPOINTS = (Endpoint("GET", "/metrics", metrics,
                      "Prometheus metrics (OpenMetrics when the Accept header asks).",
                      monitoring=True),)
