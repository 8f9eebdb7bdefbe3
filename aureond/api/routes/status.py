"""``GET /v1/status``: one document with what an operator asks first."""

from __future__ import annotations

from aiohttp import web

from aureond.api.endpoint import VIEW_KEY, Endpoint
from aureond.api.jsonio import json_response
from aureond.api.render import peers_summary, sync_json, tip_json

__all__ = ["ENDPOINTS"]


async def status(request: web.Request) -> web.Response:
    view = request.app[VIEW_KEY]
    return json_response({
        "network": view.network,
        "version": view.version,
        "uptime_seconds": round(view.uptime_seconds(), 3),
        "tip": tip_json(view.tip()),
        "best_peer_height": view.best_peer_height(),
        "sync": sync_json(view.sync()),
        "peers": peers_summary(view.peers()),
    })


ENDPOINTS = (Endpoint("GET", "/v1/status", status,
                      "Network, tip, best peer height, sync state, peers, uptime."),)
