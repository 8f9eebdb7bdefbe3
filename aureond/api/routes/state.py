"""``/v1/state/snapshots``: the compressed, merkle-committed state snapshots."""

from __future__ import annotations

from aiohttp import web

from aureond.api.endpoint import VIEW_KEY, Endpoint
from aureond.api.jsonio import json_response
from aureond.api.routes.accounts import STATE_VIEW_KEY
from aureond.api.view import MAX_HEIGHT
from aureond.errors import ApiError
from aureond.state.errors import StateError

__all__ = ["ENDPOINTS"]


async def list_snapshots(request: web.Request) -> web.Response:
    view = request.app.get(STATE_VIEW_KEY)
    if view is None:
        raise ApiError(404, "state_disabled", "this node does not keep account state")
    return json_response({"snapshots": [s.to_json() for s in view.snapshots()]})


async def snapshot_at(request: web.Request) -> web.Response:
    view = request.app.get(STATE_VIEW_KEY)
    if view is None:
        raise ApiError(404, "state_disabled", "this node does not keep account state")
    raw = request.match_info["height"]
    if not raw.isdecimal() or len(raw) > 10 or int(raw) > MAX_HEIGHT:
        raise ApiError(400, "bad_height", "a height is a decimal block height")
    height = int(raw)
    at = [s for s in view.snapshots() if s.anchor.height == height]
    best = request.app[VIEW_KEY].header_at(height)
    on_chain = [s for s in at if best is not None and s.anchor.hash == best.header.hash]
    if on_chain or at:
        return json_response({**(on_chain or at)[0].to_json(), "on_best_chain": bool(on_chain)})
    raise ApiError(404, "unknown_snapshot", f"no snapshot anchored at height {height}")


async def take(request: web.Request) -> web.Response:
    view = request.app.get(STATE_VIEW_KEY)
    if view is None:
        raise ApiError(404, "state_disabled", "this node does not keep account state")
    try:
        info = await view.take_snapshot()
    except StateError as exc:
        raise ApiError(409, "snapshot_unavailable", str(exc)) from None
    return json_response(info.to_json(), 201)


ENDPOINTS = (
    Endpoint("GET", "/v1/state/snapshots", list_snapshots,
             "Stored state snapshots: anchor, state root, sizes, ratio."),
    Endpoint("GET", "/v1/state/snapshots/{height}", snapshot_at,
             "The snapshot anchored at a height."),
    Endpoint("POST", "/v1/state/snapshots", take, "Take a state snapshot now."),
)
