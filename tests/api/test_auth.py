"""Bearer auth beyond loopback, the bind guard, token files, and a real loopback server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from aureond.api import ApiSettings, Endpoint, create_app, load_token, start_http
from aureond.api.auth import check_bearer, is_loopback
from aureond.api.routes import DEFAULT_AREAS
from aureond.clock import FakeClock
from aureond.errors import ApiError, ConfigError
from tests.api.fakes import FakeView

TOKEN = "7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c1e"
JSON = {"Content-Type": "application/json"}


async def _created(_request: web.Request) -> web.Response:
    return web.json_response({"id": 1}, status=201)


# A state-changing endpoint in the shape the accounts area will have.
STATEFUL = (Endpoint("POST", "/v1/things", _created, "Create a thing."),
            Endpoint("DELETE", "/v1/things/{id}", _created, "Delete a thing."))


@pytest.fixture
async def exposed(make_client: Any, view: FakeView, clock: FakeClock) -> Any:
    settings = ApiSettings(bind_host="0.0.0.0", token=TOKEN)
    return await make_client(create_app(view, CollectorRegistry(), clock, settings,
                                        areas=(*DEFAULT_AREAS, STATEFUL)))


@pytest.mark.parametrize(("headers", "code"), [
    ({}, "unauthorized"),
    ({"Authorization": "Basic " + TOKEN}, "unauthorized"),
    ({"Authorization": "Bearer"}, "unauthorized"),
    ({"Authorization": "Bearer " + TOKEN[:-1]}, "invalid_token"),
    ({"Authorization": "Bearer " + TOKEN + "0"}, "invalid_token"),
    ({"Authorization": "Bearer " + TOKEN.upper()}, "invalid_token"),
    ({"Authorization": "Bearer tökén"}, "invalid_token"),
])
async def test_state_change_beyond_loopback_needs_the_token(exposed: Any, headers: dict[str, str],
                                                            code: str) -> None:
    for method, path in (("POST", "/v1/things"), ("DELETE", "/v1/things/1")):
        resp = await exposed.request(method, path, headers={**JSON, **headers}, data=b"{}")
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"] == "Bearer"
        assert (await resp.json())["error"]["code"] == code


async def test_right_token_passes(exposed: Any) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert (await exposed.post("/v1/things", headers=auth)).status == 201
    assert (await exposed.delete("/v1/things/9", headers=auth)).status == 201


@pytest.mark.parametrize("path", ["/", "/metrics", "/health", "/health/live", "/v1/tip",
                                  "/v1/status", "/v1/peers", "/v1/headers/830000"])
async def test_reads_metrics_and_health_stay_open(exposed: Any, path: str) -> None:
    assert (await exposed.get(path)).status in (200, 503)


async def test_proof_check_is_read_only_and_stays_open(exposed: Any) -> None:
    resp = await exposed.post("/v1/proofs/verify", data=b'{"proof": "00"}', headers=JSON)
    assert resp.status == 400  # judged on its content, not refused for auth


async def test_index_marks_the_authenticated_endpoints(exposed: Any) -> None:
    body = await (await exposed.get("/")).json()
    needing = {(e["method"], e["path"]) for e in body["endpoints"] if e["auth"]}
    assert needing == {("POST", "/v1/things"), ("DELETE", "/v1/things/{id}")}


async def test_loopback_needs_no_token(make_client: Any, view: FakeView, clock: FakeClock) -> None:
    client = await make_client(create_app(view, CollectorRegistry(), clock,
                                          areas=(*DEFAULT_AREAS, STATEFUL)))
    assert (await client.post("/v1/things")).status == 201


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("0.0.0.0", False), ("::", False), ("192.168.1.5", False),
    ("example.org", False), ("", False),
])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_settings_refuse_beyond_loopback_without_token() -> None:
    assert not ApiSettings(bind_host="127.0.0.1").auth_required
    assert ApiSettings(bind_host="0.0.0.0", token=TOKEN).auth_required
    with pytest.raises(ConfigError) as info:
        ApiSettings(bind_host="0.0.0.0")
    assert info.value.field == "http.listen"
    with pytest.raises(ConfigError):
        ApiSettings(bind_host="10.0.0.1")
    with pytest.raises(ConfigError, match="empty"):
        ApiSettings(token="")


def test_check_bearer_accepts_case_insensitive_scheme() -> None:
    check_bearer(f"bearer {TOKEN}", TOKEN)
    with pytest.raises(ApiError):
        check_bearer(None, TOKEN)


def test_load_token_from_file_and_credentials_directory(tmp_path: Path) -> None:
    assert load_token(None, None) is None
    assert load_token(None, str(tmp_path)) is None  # no credential there
    token_file = tmp_path / "token"
    token_file.write_text(f"  {TOKEN}\n")
    assert load_token(token_file) == TOKEN
    (tmp_path / "http-token").write_text(TOKEN + "\n")
    assert load_token(None, str(tmp_path)) == TOKEN


@pytest.mark.parametrize("content", [b"", b"short", b"two tokens-here-and-here-and-here",
                                     b"\xff" * 32, b"a" * 5000])
def test_load_token_refuses_bad_files(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "token"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load_token(path)
    assert info.value.field == "http.token_file"


def test_load_token_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_token(tmp_path / "absent")


async def test_start_http_refuses_a_wider_bind_than_configured(view: FakeView,
                                                               clock: FakeClock) -> None:
    app = create_app(view, CollectorRegistry(), clock)
    with pytest.raises(ConfigError, match="configured for loopback"):
        await start_http(app, "0.0.0.0", 0)


async def test_start_http_serves_on_loopback_and_stops(view: FakeView, clock: FakeClock) -> None:
    runner, _site = await start_http(create_app(view, CollectorRegistry(), clock), "127.0.0.1", 0)
    try:
        host, port = runner.addresses[0][:2]
        assert host == "127.0.0.1"
        async with aiohttp.ClientSession() as session, \
                session.get(f"http://127.0.0.1:{port}/health/live") as resp:
            assert resp.status == 200
        # A second server on the same port is refused with the setting named.
        with pytest.raises(ConfigError, match="cannot listen"):
            await start_http(create_app(view, CollectorRegistry(), clock), "127.0.0.1", port)
    finally:
        await runner.cleanup()
