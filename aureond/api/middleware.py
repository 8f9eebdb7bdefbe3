"""The request pipeline around every handler, outermost first.

1. ``observe``: latency into ``aureond_http_request_duration_seconds{route}``, the
   request counter, and the node's error rate (only unexpected failures count);
2. ``errors``: every exception becomes the JSON error shape. ``ApiError`` keeps its 4xx,
   a refused rate limit is 429 with ``Retry-After``, aiohttp's own 404/405/413 keep
   their status; anything else is logged and answered 500 with a generic message (no
   stack trace leaves the process);
3. ``rate_limit``: one token bucket per client address;
4. ``body_cap``: a declared ``Content-Length`` over the cap is 413 before any byte is
   read (bodies without one are capped by the app's ``client_max_size``);
5. ``auth``: the bearer token on state-changing routes when bound beyond loopback.

The client address is the TCP peer: behind a reverse proxy every client shares the
proxy's bucket (forwarded headers are not trusted, anyone can send them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware

from aureond.api.activity import RequestActivity
from aureond.api.auth import check_bearer
from aureond.api.endpoint import Endpoint, Handler, RequestOutcomes
from aureond.api.jsonio import error_response
from aureond.api.metrics import UNMATCHED_ROUTE, ApiMetrics
from aureond.api.settings import ApiSettings
from aureond.clock import Clock
from aureond.errors import ApiError, RateLimitedError
from aureond.resilience import KeyedBuckets

__all__ = ["build_middlewares", "route_label"]

_log = structlog.get_logger("aureond.api")

_MAX_ECHO = 120
"""Longest piece of a request echoed back in an error message."""


def route_label(request: web.Request) -> str:
    """The matched route template, or ``unmatched``: a bounded metrics label."""
    resource = request.match_info.route.resource
    return UNMATCHED_ROUTE if resource is None else resource.canonical


def _echo(text: str) -> str:
    return text if len(text) <= _MAX_ECHO else text[:_MAX_ECHO] + "..."


def _http_exception_response(request: web.Request, exc: web.HTTPException) -> web.Response:
    headers = {k: v for k, v in exc.headers.items()
               if k.lower() not in ("content-type", "content-length")}
    status = exc.status
    if status == 404:
        return error_response(404, "not_found", f"no endpoint at {_echo(request.path)}; "
                              "GET / lists the endpoints", headers)
    if status == 405:
        allowed = headers.get("Allow", "")
        return error_response(405, "method_not_allowed",
                              f"{_echo(request.method)} is not allowed on "
                              f"{_echo(request.path)}; allowed: {allowed}", headers)
    if status == 413:
        return error_response(413, "body_too_large", "the request body is larger than the "
                              "configured http.max_body_bytes", headers)
    code = (exc.reason or "error").lower().replace(" ", "_").replace("-", "_")
    return error_response(status, code, exc.reason or "request refused", headers)


def build_middlewares(*, settings: ApiSettings, metrics: ApiMetrics, clock: Clock,
                      limiter: KeyedBuckets[str], endpoints: Mapping[web.AbstractRoute, Endpoint],
                      outcomes: RequestOutcomes | None,
                      activity: RequestActivity | None = None) -> list[Middleware]:
    """The middleware chain for one application (closures over its state)."""

    @web.middleware
    async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
        start = clock.monotonic()
        if activity is not None:
            activity.started()
        # ``errors`` below turns every Exception into a response; what still propagates
        # is cancellation (the client went away): not an answer, so not counted.
        response = await handler(request)
        status = response.status
        metrics.observe(route_label(request), status, clock.monotonic() - start)
        if outcomes is not None:
            # 503 is only ever answered on purpose (not ready, health failing).
            if status >= 500 and status != 503:
                outcomes.record_error("http_internal")
            else:
                outcomes.record_success()
        return response

    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            return error_response(exc.status, exc.code, exc.message, headers)
        except RateLimitedError as exc:
            retry_after = max(1, math.ceil(exc.retry_after))
            return error_response(429, "rate_limited", "too many requests from this client; "
                                  f"retry in {retry_after} s",
                                  {"Retry-After": str(retry_after)})
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _http_exception_response(request, exc)
        except Exception:
            _log.exception("http.unhandled_error", method=request.method,
                           route=route_label(request))
            return error_response(500, "internal_error", "the node failed to answer this "
                                  "request; the details are in its log")

    @web.middleware
    async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        key = request.remote or "unknown"
        if not limiter.try_acquire(key):
            raise RateLimitedError(limiter.name, limiter.time_until_available(key))
        return await handler(request)

    cap = settings.max_body_bytes

    @web.middleware
    async def body_cap(request: web.Request, handler: Handler) -> web.StreamResponse:
        length = request.content_length
        if length is not None and length > cap:
            raise ApiError(413, "body_too_large", f"the request body is {length} bytes; "
                           f"at most {cap} are accepted (http.max_body_bytes)")
        return await handler(request)

    token = settings.token

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        endpoint = endpoints.get(request.match_info.route)
        if endpoint is not None and endpoint.changes_state and token is not None:
            check_bearer(request.headers.get("Authorization"), token)
        return await handler(request)

    chain: list[Middleware] = [observe, errors, rate_limit, body_cap]
    if settings.auth_required:
        chain.append(auth)
    return chain
