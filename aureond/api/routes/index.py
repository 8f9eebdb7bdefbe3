"""``GET /``: the endpoints this node serves."""

from __future__ import annotations

from aiohttp import web

from aureond.api.endpoint import ENDPOINTS_KEY, SETTINGS_KEY, VIEW_KEY, Endpoint
from aureond.api.jsonio import json_response

__all__ = ["ENDPOINTS"]


async def list_endpoints(request: web.Request) -> web.Response:
    app = request.app
    auth = app[SETTINGS_KEY].auth_required
    listed = [{"method": e.method, "path": e.path, "summary": e.summary,
               "auth": auth and e.changes_state}
              for e in app[ENDPOINTS_KEY].values()]
    view = app[VIEW_KEY]
    return json_response({"service": "aureond", "version": view.version,
                          "network": view.network, "endpoints": listed})


ENDPOINTS = (Endpoint("GET", "/", list_endpoints, "This list of endpoints."),)
