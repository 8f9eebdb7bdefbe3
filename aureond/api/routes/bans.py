"""``/v1/peers/bans``: the node's persistent ban list, and lifting a ban.

The node's :class:`~aureond.api.view.BanView` is under ``app[BAN_VIEW_KEY]``; an app
without one answers 404 ``bans_unavailable``. ``DELETE /v1/peers/bans/{addr}`` takes
``HOST:PORT`` (``[v6]:PORT`` for IPv6) or a bare ``HOST`` (every port of it),
percent-encoded as a path segment. It changes state, so beyond loopback it needs the
bearer token. The node stops refusing the address at once (it may dial it again) and
answers once the change is in ``peers.json``.
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from aureond.api.endpoint import CLOCK_KEY, Endpoint
from aureond.api.jsonio import json_response
from aureond.api.render import rfc3339
from aureond.api.view import BanInfo, BanView
from aureond.errors import ApiError, StoreError

__all__ = ["BAN_VIEW_KEY", "ENDPOINTS", "ban_json", "parse_ban_address"]

BAN_VIEW_KEY = web.AppKey[BanView]("aureond_ban_view")
_MAX_ADDRESS = 300


def _view(request: web.Request) -> BanView:
    view = request.app.get(BAN_VIEW_KEY)
    if view is None:
        raise ApiError(404, "bans_unavailable", "this node keeps no ban list")
    return view


def ban_json(ban: BanInfo, now: float) -> dict[str, Any]:
    left = ban.until - now
    return {"address": ban.address, "reason": ban.reason,
            "banned_at": rfc3339(ban.since), "expires_at": rfc3339(ban.until),
            "expires_in_seconds": max(0, math.ceil(left)) if math.isfinite(left) else None}


def _bad(text: str, why: str) -> ApiError:
    shown = text if len(text) <= 80 else text[:80] + "..."
    return ApiError(400, "bad_address", f"{shown!r} {why}; give HOST:PORT, [IPv6]:PORT "
                    "or HOST (every port), as GET /v1/peers/bans lists them")


def parse_ban_address(text: str) -> tuple[str, int | None]:
    """``HOST:PORT``, ``[v6]:PORT``, ``[v6]``, a bare IPv6 literal or ``HOST`` as
    (host, port or None); a 400 ``ApiError`` naming the problem otherwise."""
    raw = text.strip()
    if not raw:
        raise _bad(text, "is empty")
    if len(raw) > _MAX_ADDRESS or any(c.isspace() or c in "/?#" for c in raw):
        raise _bad(text, "is not an address")
    port_text: str | None = None
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise _bad(text, "opens '[' without closing it")
        host, rest = raw[1:end], raw[end + 1:]
        if rest:
            if not rest.startswith(":"):
                raise _bad(text, "has something other than ':PORT' after ']'")
            port_text = rest[1:]
    elif raw.count(":") == 1:
        host, port_text = raw.split(":")
    else:
        host = raw  # a name, an IPv4 literal, or a bare IPv6 literal
    if not host:
        raise _bad(text, "has no host")
    if port_text is None:
        return host, None
    if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise _bad(text, "needs a port in 1-65535")
    return host, int(port_text)


async def list_bans(request: web.Request) -> web.Response:
    bans = _view(request).bans()
    now = request.app[CLOCK_KEY].wall()
    return json_response({"count": len(bans), "bans": [ban_json(b, now) for b in bans]})


async def unban(request: web.Request) -> web.Response:
    view = _view(request)
    text = request.match_info["addr"]
    host, port = parse_ban_address(text)
    try:
        lifted = await view.unban(host, port)
    except ValueError as exc:
        raise _bad(text, f"is not an address ({exc})") from None
    except StoreError as exc:
        raise ApiError(500, "not_saved", f"the ban of {text} is lifted until the node "
                       f"restarts, but it could not be saved: {exc}") from None
    if not lifted:
        raise ApiError(404, "not_banned", f"{text} is not banned; GET /v1/peers/bans lists "
                       "the bans")
    now = request.app[CLOCK_KEY].wall()
    return json_response({"unbanned": [ban_json(b, now) for b in lifted]})


ENDPOINTS = (
    Endpoint("GET", "/v1/peers/bans", list_bans,
             "Banned peer addresses: reason, when banned, when the ban ends."),
    Endpoint("DELETE", "/v1/peers/bans/{addr}", unban,
             "Lift a ban (HOST:PORT, or HOST for every port); the node may dial it again."),
)
