"""``GET /v1/tip`` and ``GET /v1/headers/{ref}`` (a height or a block hash)."""

from __future__ import annotations

import re

from aiohttp import web

from aureond.api.endpoint import VIEW_KEY, Endpoint
from aureond.api.jsonio import json_response
from aureond.api.render import header_json, tip_json
from aureond.api.view import MAX_HEIGHT
from aureond.errors import ApiError

__all__ = ["ENDPOINTS", "parse_header_ref"]

_HASH = re.compile(r"[0-9a-fA-F]{64}")
_HEIGHT = re.compile(r"[0-9]{1,10}")


def parse_header_ref(ref: str) -> int | bytes:
    """A height (decimal digits) or a wire-order hash (64 hex digits, display order).

    64 digits are a hash even when they are all decimal. Anything else is a 400.
    """
    if _HASH.fullmatch(ref):
        return bytes.fromhex(ref)[::-1]
    if _HEIGHT.fullmatch(ref):
        height = int(ref)
        if height <= MAX_HEIGHT:
            return height
        raise ApiError(400, "bad_height", f"height {ref} is beyond any possible block")
    shown = ref if len(ref) <= 80 else ref[:80] + "..."
    raise ApiError(400, "bad_header_ref", f"{shown!r} is neither a height (decimal digits) "
                   "nor a block hash (64 hex digits)")


async def tip(request: web.Request) -> web.Response:
    return json_response(tip_json(request.app[VIEW_KEY].tip()))


async def header(request: web.Request) -> web.Response:
    view = request.app[VIEW_KEY]
    ref = parse_header_ref(request.match_info["ref"])
    if isinstance(ref, int):
        info = view.header_at(ref)
        what = f"height {ref}"
    else:
        info = view.header_by_hash(ref)
        what = f"block {ref[::-1].hex()}"
    if info is None:
        raise ApiError(404, "unknown_header", f"no header at {what} in our chain"
                       if isinstance(ref, int) else f"{what} is not a header we hold")
    return json_response(header_json(info, view.tip().height))


ENDPOINTS = (
    Endpoint("GET", "/v1/tip", tip, "Best-chain tip: height, hash, chainwork, time."),
    Endpoint("GET", "/v1/headers/{ref}", header,
             "A header by height (digits) or by hash (64 hex digits)."),
)
