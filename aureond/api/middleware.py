"""The request pipeline around every handler, outermost first.

1. ``observe``: latency into ``aureond_http_request_duration_seconds{route}``, the
   request counter, and the node's error rate (only unexpected failures count). A
   request whose client hung up before the answer is none of these: it is counted in
   ``aureond_http_client_aborts_total{route}`` and logged at debug;
2. ``errors``: every exception becomes the JSON error shape. ``ApiError`` keeps its 4xx,
   a refused rate limit is 429 with ``Retry-After``, aiohttp's own 404/405/413 keep
   their status, a body that breaks its framing is 400; a lost connection is handed to
   ``observe`` as an abort; anything else is logged and answered 500 with a generic
   message (no stack trace leaves the process);
3. ``rate_limit``: one token bucket per client address, and a separate one for the
   monitoring routes (``/health*``, ``/metrics``), so a flood of ``/v1/*`` cannot
   starve the probe and the scraper on the same host;
4. ``body``: a declared ``Content-Length`` over the cap is 413 before any byte is
   read (bodies without one are capped by the app's ``client_max_size``); a body is
   then read whole, within ``http.body_timeout``, before the handler runs;
5. ``auth``: the bearer token on state-changing routes when bound beyond loopback.

``expect_handler`` answers ``Expect: 100-continue``: 413 at once when the declared
length is over the cap, so a client never sends a body that would be refused.

Each step reports the request's progress to its connection's guard (see
:mod:`aureond.api.connections`) when it is served by :func:`~aureond.api.start_http`.

The client address is the TCP peer: behind a reverse proxy every client shares the
proxy's bucket (forwarded headers are not trusted, anyone can send them).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping

import structlog
from aiohttp import web
from aiohttp.http import HttpVersion11
from aiohttp.typedefs import Middleware

from aureond.api.activity import RequestActivity
from aureond.api.auth import check_bearer
from aureond.api.connections import GuardedConnection
from aureond.api.endpoint import Endpoint, ExpectHandler, Handler, RequestOutcomes
from aureond.api.jsonio import error_response
from aureond.api.metrics import UNMATCHED_ROUTE, ApiMetrics
from aureond.api.settings import ApiSettings
from aureond.clock import Clock
from aureond.errors import ApiError, RateLimitedError
from aureond.resilience import KeyedBuckets

__all__ = ["CLIENT_CLOSED", "build_middlewares", "connection_of", "expect_handler",
           "route_label"]

_log = structlog.get_logger("aureond.api")

_MAX_ECHO = 120
"""Longest piece of a request echoed back in an error message."""
CLIENT_CLOSED = 499
"""The status given to aiohttp for a request whose client is gone (nginx's "client
closed request"); it is never delivered and is only seen by an access log."""
_ABORTS = (ConnectionError, web.RequestPayloadError)
"""What a handler sees when its client hangs up: the body read or the write is reset."""


class _ConnectionLostError(Exception):
    """The connection went away while the request was handled (raised to ``observe``)."""


def connection_of(request: web.Request) -> GuardedConnection | None:
    """The guarded connection serving ``request`` (None without the guard: tests)."""
    transport = request.transport
    if transport is None:
        return None
    protocol = transport.get_protocol()
    return protocol if isinstance(protocol, GuardedConnection) else None


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


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


def _dropped(request: web.Request, metrics: ApiMetrics,
             conn: GuardedConnection | None) -> web.Response:
    """The connection is gone: count a client's hang-up, and answer nobody."""
    route = route_label(request)
    reason = conn.closed_reason if conn is not None else None
    if reason is None:
        metrics.client_abort(route)
        _log.debug("http.client_aborted", method=request.method, route=route)
    else:  # the guard closed it (a body too slow): counted by reason already
        _log.debug("http.request_dropped", method=request.method, route=route,
                   reason=reason)
    response = web.Response(status=CLIENT_CLOSED)
    response.force_close()
    return response


def build_middlewares(*, settings: ApiSettings, metrics: ApiMetrics, clock: Clock,
                      limiter: KeyedBuckets[str], endpoints: Mapping[web.AbstractRoute, Endpoint],
                      outcomes: RequestOutcomes | None,
                      activity: RequestActivity | None = None,
                      monitoring_limiter: KeyedBuckets[str] | None = None) -> list[Middleware]:
    """The middleware chain for one application (closures over its state).

    ``monitoring_limiter`` is the bucket of the monitoring routes (without one they
    share ``limiter``).
    """

    @web.middleware
    async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
        start = clock.monotonic()
        if activity is not None:
            activity.started()
        conn = connection_of(request)
        if conn is not None:
            conn.request_started()
        # ``errors`` below turns every Exception into a response, or into
        # _ConnectionLostError when the connection is lost; what still propagates is
        # cancellation (the node is stopping): not an answer, so not counted.
        try:
            response = await handler(request)
        except _ConnectionLostError:
            return _dropped(request, metrics, conn)
        finally:
            if conn is not None:
                conn.request_finished()
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
        except asyncio.CancelledError:
            if _client_gone(request) and not _being_cancelled():
                # The client left and its body read was cancelled (not this task).
                raise _ConnectionLostError from None
            raise
        except Exception as exc:
            if isinstance(exc, _ABORTS) and _client_gone(request):
                raise _ConnectionLostError from exc
            if isinstance(exc, web.RequestPayloadError):
                return error_response(400, "malformed_body", "the request body breaks its "
                                      f"framing: {_echo(str(exc))}")
            _log.exception("http.unhandled_error", method=request.method,
                           route=route_label(request))
            return error_response(500, "internal_error", "the node failed to answer this "
                                  "request; the details are in its log")

    monitoring = monitoring_limiter if monitoring_limiter is not None else limiter

    @web.middleware
    async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        key = request.remote or "unknown"
        endpoint = endpoints.get(request.match_info.route)
        bucket = monitoring if endpoint is not None and endpoint.monitoring else limiter
        if not bucket.try_acquire(key):
            raise RateLimitedError(bucket.name, bucket.time_until_available(key))
        return await handler(request)

    cap = settings.max_body_bytes

    @web.middleware
    async def body(request: web.Request, handler: Handler) -> web.StreamResponse:
        length = request.content_length
        if length is not None and length > cap:
            raise _too_large(length, cap)
        if request.body_exists:
            # Read it whole now, under the guard's body deadline, so that a client
            # trickling its body is cut off and the handler never waits on one.
            conn = connection_of(request)
            if conn is not None:
                conn.body_started()
            await request.read()
            if conn is not None:
                conn.body_received()
        return await handler(request)

    token = settings.token

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        endpoint = endpoints.get(request.match_info.route)
        if endpoint is not None and endpoint.changes_state and token is not None:
            check_bearer(request.headers.get("Authorization"), token)
        return await handler(request)

    chain: list[Middleware] = [observe, errors, rate_limit, body]
    if settings.auth_required:
        chain.append(auth)
    return chain


def _too_large(length: int, cap: int) -> ApiError:
    return ApiError(413, "body_too_large", f"the request body is {length} bytes; "
                    f"at most {cap} are accepted (http.max_body_bytes)")


def expect_handler(settings: ApiSettings, metrics: ApiMetrics) -> ExpectHandler:
    """The routes' ``Expect`` handler (it runs before the middlewares).

    ``100-continue`` with a declared length over the cap is answered 413 at once and
    the connection closed, so the client never sends the body; otherwise
    ``100 Continue`` goes out and the request goes through the pipeline. Any other
    expectation is 417.
    """
    cap = settings.max_body_bytes

    async def expect(request: web.Request) -> web.StreamResponse | None:
        expectation = request.headers.get("Expect", "")
        length = request.content_length
        if expectation.lower() != "100-continue":
            answer = error_response(417, "expectation_failed",
                                    f"Expect: {_echo(expectation)} is not supported; "
                                    "only 100-continue is")
        elif length is not None and length > cap:
            err = _too_large(length, cap)
            answer = error_response(err.status, err.code, err.message)
        else:
            if request.version == HttpVersion11:
                await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                request.writer.output_size = 0  # the final answer is still to come
            return None
        answer.force_close()
        metrics.count(route_label(request), answer.status)
        return answer

    return expect
