"""JSON in and out: responses, the error shape, and strict request bodies.

Every error the API answers has the body ``{"error": {"code": ..., "message": ...}}``.
A request body must be a JSON object sent as ``Content-Type: application/json``: that
content type cannot be sent cross-origin without a CORS preflight (which this API does
not answer), so a web page in the operator's browser cannot post to a loopback node.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from aureond.errors import ApiError

__all__ = ["error_response", "json_response", "read_json_object"]


def _finite(data: Any) -> Any:
    """``data`` with every NaN or infinite float replaced by None (JSON has neither)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(v) for v in data]
    return data


def _dumps(data: Any) -> str:
    try:
        return json.dumps(data, separators=(",", ":"), allow_nan=False)
    except ValueError:  # a NaN or infinity from the node: send null, stay valid JSON
        return json.dumps(_finite(data), separators=(",", ":"), allow_nan=False)


def json_response(data: Any, status: int = 200, *, content_type: str = "application/json",
                  headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON response (compact, ASCII, no NaN)."""
    return web.Response(text=_dumps(data), status=status, content_type=content_type,
                        headers=headers)


def error_response(status: int, code: str, message: str,
                   headers: Mapping[str, str] | None = None) -> web.Response:
    """The one error shape: ``{"error": {"code", "message"}}``."""
    return json_response({"error": {"code": code, "message": message}}, status,
                         headers=headers)


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object; ``ApiError`` (400/415) naming the problem.

    The size cap is the application's ``client_max_size`` (413 beyond it).
    """
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type",
                       "send the body as JSON with 'Content-Type: application/json'")
    raw = await request.read()
    if not raw:
        raise ApiError(400, "empty_body", "the request needs a JSON object body")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "malformed_json", "the body is not UTF-8") from None
    except RecursionError:
        raise ApiError(400, "malformed_json", "the JSON is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and ints past the digit limit
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_json",
                       f"the body must be a JSON object, got {type(data).__name__}")
    return data
