"""Error paths of the pipeline: JSON error shape, 404/405/413/415/429, and the 500 net."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import Any
from unittest import mock

import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient, make_mocked_request
from prometheus_client import CollectorRegistry

from aureond.api import ApiSettings, Endpoint, create_app
from aureond.api.routes import DEFAULT_AREAS
from aureond.clock import FakeClock
from aureond.monitoring.error_rate import ErrorRateTracker
from tests.api.fakes import FakeView

Client = TestClient[web.Request, web.Application]
JSON = {"Content-Type": "application/json"}


def assert_error(body: Any, code: str) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


async def test_unknown_path_is_json_404(client: Client) -> None:
    resp = await client.get("/v2/anything")
    assert resp.status == 404
    assert_error(await resp.json(), "not_found")


async def test_wrong_method_is_json_405_with_allow(client: Client) -> None:
    resp = await client.delete("/v1/tip")
    assert resp.status == 405
    assert resp.headers["Allow"] == "GET"
    assert_error(await resp.json(), "method_not_allowed")


@pytest.mark.parametrize(("body", "headers", "status", "code"), [
    (b"{", JSON, 400, "malformed_json"),
    (b"", JSON, 400, "empty_body"),
    (b"[1, 2]", JSON, 400, "malformed_json"),
    (b'"proof"', JSON, 400, "malformed_json"),
    (b"\xff\xfe{}", JSON, 400, "malformed_json"),
    (b"[" * 50_000 + b"]" * 50_000, JSON, 400, "malformed_json"),
    (b'{"pos": 1' + b"0" * 5000 + b"}", JSON, 400, "malformed_json"),  # int digit limit
    (b'{"proof": "00"}', {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
    (b'{"proof": "00"}', {}, 415, "unsupported_media_type"),
])
async def test_bad_bodies(make_client: Any, view: FakeView, clock: FakeClock, body: bytes,
                          headers: dict[str, str], status: int, code: str) -> None:
    settings = ApiSettings(max_body_bytes=200_000)
    client = await make_client(create_app(view, CollectorRegistry(), clock, settings))
    resp = await client.post("/v1/proofs/verify", data=body, headers=headers)
    assert resp.status == status
    assert_error(await resp.json(), code)


@pytest.fixture
def small_body_settings() -> ApiSettings:
    return ApiSettings(max_body_bytes=1024)


async def test_declared_oversized_body_is_413_before_reading(
        make_client: Any, view: FakeView, clock: FakeClock,
        small_body_settings: ApiSettings) -> None:
    client = await make_client(create_app(view, CollectorRegistry(), clock, small_body_settings))
    resp = await client.post("/v1/proofs/verify", data=b"x" * 1025, headers=JSON)
    assert resp.status == 413
    body = await resp.json()
    assert_error(body, "body_too_large")
    assert "1025" in body["error"]["message"]
    ok = await client.post("/v1/proofs/verify", data=b"x" * 1024, headers=JSON)
    assert ok.status == 400  # within the cap: read, then refused as not JSON


async def test_chunked_oversized_body_is_413(make_client: Any, view: FakeView, clock: FakeClock,
                                             small_body_settings: ApiSettings) -> None:
    client = await make_client(create_app(view, CollectorRegistry(), clock, small_body_settings))

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"y" * 512

    resp = await client.post("/v1/proofs/verify", data=chunks(), headers=JSON)
    assert resp.status == 413
    assert_error(await resp.json(), "body_too_large")


async def test_rate_limit_429_with_retry_after_then_refills(
        make_client: Any, view: FakeView, clock: FakeClock) -> None:
    settings = ApiSettings(rate_burst=3, rate_per_second=0.25)
    client = await make_client(create_app(view, CollectorRegistry(), clock, settings))
    for _ in range(3):
        assert (await client.get("/v1/tip")).status == 200
    refused = await client.get("/v1/tip")
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "4"  # one token at 0.25/s
    assert_error(await refused.json(), "rate_limited")
    # A forwarded-for header is not trusted: it does not buy a fresh bucket.
    spoofed = await client.get("/v1/tip", headers={"X-Forwarded-For": "203.0.113.9"})
    assert spoofed.status == 429
    clock.advance(3.9)
    assert (await client.get("/v1/tip")).status == 429
    clock.advance(0.1)
    assert (await client.get("/v1/tip")).status == 200


async def test_rate_limited_requests_are_counted_and_not_node_errors(
        make_client: Any, view: FakeView, clock: FakeClock) -> None:
    tracker = ErrorRateTracker(clock)
    registry = CollectorRegistry()
    app = create_app(view, registry, clock, ApiSettings(rate_burst=1, rate_per_second=1.0),
                     outcomes=tracker)
    client = await make_client(app)
    await client.get("/v1/tip")
    await client.get("/v1/tip")
    assert registry.get_sample_value("aureond_http_requests_total",
                                     {"route": "/v1/tip", "status_class": "4xx"}) == 1
    assert tracker.errors == 0


async def _explode(_request: web.Request) -> web.Response:
    raise ZeroDivisionError("secret internal detail")


async def test_unexpected_exception_is_generic_500_logged_and_counted(
        make_client: Any, view: FakeView, clock: FakeClock) -> None:
    tracker = ErrorRateTracker(clock)
    areas = (*DEFAULT_AREAS, (Endpoint("GET", "/boom", _explode, "Fails."),))
    client = await make_client(create_app(view, CollectorRegistry(), clock, outcomes=tracker,
                                          areas=areas))
    with structlog.testing.capture_logs() as logs:
        resp = await client.get("/boom")
    assert resp.status == 500
    text = await resp.text()
    for leak in ("secret", "Traceback", "ZeroDivision"):
        assert leak not in text
    assert_error(await resp.json(), "internal_error")
    assert [e["event"] for e in logs] == ["http.unhandled_error"]
    assert logs[0]["route"] == "/boom"
    assert (tracker.successes, tracker.errors) == (0, 1)


def _transport(*, closing: bool) -> mock.Mock:
    transport = mock.Mock()
    transport.is_closing.return_value = closing
    return transport


async def test_cancellation_propagates_and_is_not_counted(view: FakeView,
                                                          clock: FakeClock) -> None:
    tracker = ErrorRateTracker(clock)
    registry = CollectorRegistry()
    app = create_app(view, registry, clock, outcomes=tracker)
    # The client is still there: this is the node stopping, not a hang-up.
    request = make_mocked_request("GET", "/v1/tip", app=app,
                                  transport=_transport(closing=False))

    async def cancelled(_request: web.Request) -> web.StreamResponse:
        raise asyncio.CancelledError

    handler: Any = cancelled
    for middleware in reversed(app.middlewares):
        handler = functools.partial(middleware, handler=handler)
    with pytest.raises(asyncio.CancelledError):
        await handler(request)
    assert (tracker.successes, tracker.errors) == (0, 0)
