"""``GET /v1/peers``: every peer slot and the banned peers."""

from __future__ import annotations

from aiohttp import web

from aureond.api.endpoint import VIEW_KEY, Endpoint
from aureond.api.jsonio import json_response
from aureond.api.render import peer_json, peers_summary

__all__ = ["ENDPOINTS"]


async def peers(request: web.Request) -> web.Response:
    found = request.app[VIEW_KEY].peers()
    return json_response({"summary": peers_summary(found),
                          "peers": [peer_json(p) for p in found]})


ENDPOINTS = (Endpoint("GET", "/v1/peers", peers,
                      "Peer slots: state, breaker, score, bans, user agent."),)
