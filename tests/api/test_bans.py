"""``/v1/peers/bans``: listing bans and lifting one, over a real peer book on disk.

The ban view is the daemon's own (``NodeBans`` over a ``PeerBook`` in a temporary
directory, saved by a running ``PeerBookSaver``); only the P2P core is replaced by a
list that records which addresses it was told to dial again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from aureond.api import ApiSettings, create_app
from aureond.api.routes import DEFAULT_AREAS
from aureond.api.routes import bans as bans_routes
from aureond.clock import FakeClock
from aureond.errors import ApiError
from aureond.service.bans import NodeBans
from aureond.service.peersaver import PeerBookSaver
from aureond.store.peers import PeerAddress, PeerBook
from tests.api.conftest import ClientFactory
from tests.api.fakes import FakeView

TOKEN = "7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c1e"
V4 = PeerAddress("203.0.113.9", 8333)
V4_OTHER_PORT = PeerAddress("203.0.113.9", 18333)
V6 = PeerAddress("2001:db8::1", 8333)
NAMED = PeerAddress("seed.example.org", 8333)
HOUR = 3600.0


class Node:
    """The ban area of a node: book, saver task, ban view, and what the core was told."""

    def __init__(self, path: Path, clock: FakeClock) -> None:
        self.path = path
        self.clock = clock
        self.book = PeerBook.open(path, clock=clock)
        self.saver = PeerBookSaver(self.book)
        self.lifted: list[PeerAddress] = []
        self.bans = NodeBans(self.book, lift=self.lifted.append, persist=self.saver.flush)

    def on_disk(self) -> dict[str, str]:
        """Address -> reason of the bans in the file, as a restart would read them."""
        doc = json.loads(self.path.read_text())
        return {str(PeerAddress(b["host"], b["port"])): b["reason"] for b in doc["bans"]}


@pytest.fixture
async def node(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Node]:
    n = Node(tmp_path / "peers.json", clock)
    n.book.ban(V4, "invalid-headers:high-hash", 2 * HOUR)
    n.book.ban(V4_OTHER_PORT, "bad-block", 3 * HOUR)
    n.book.ban(V6, "invalid-headers:bad-diffbits", HOUR)
    n.book.ban(NAMED, "invalid-headers:time-too-new", 4 * HOUR)
    task = asyncio.create_task(n.saver.run())
    await n.saver.flush()
    yield n
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _app(view: FakeView, clock: FakeClock, node: Node,
         settings: ApiSettings | None = None) -> web.Application:
    app = create_app(view, CollectorRegistry(), clock, settings,
                     areas=(*DEFAULT_AREAS, bans_routes.ENDPOINTS))
    app[bans_routes.BAN_VIEW_KEY] = node.bans
    return app


@pytest.fixture
async def client(view: FakeView, clock: FakeClock, node: Node,
                 make_client: ClientFactory) -> Any:
    return await make_client(_app(view, clock, node))


async def _delete(client: Any, addr: str, **kw: Any) -> tuple[int, Any]:
    resp = await client.delete(f"/v1/peers/bans/{quote(addr, safe='')}", **kw)
    return resp.status, await resp.json()


async def test_the_list_has_address_reason_and_both_times(client: Any, node: Node,
                                                          clock: FakeClock) -> None:
    clock.advance(600)
    resp = await client.get("/v1/peers/bans")
    assert resp.status == 200
    doc = await resp.json()
    assert doc["count"] == 4
    assert [b["address"] for b in doc["bans"]] == [
        "[2001:db8::1]:8333", "203.0.113.9:8333", "203.0.113.9:18333", "seed.example.org:8333"]
    first = doc["bans"][0]
    ban = node.book.ban_info(V6)
    assert ban is not None
    assert first["reason"] == "invalid-headers:bad-diffbits"
    assert first["expires_in_seconds"] == HOUR - 600
    assert first["banned_at"].endswith("Z")
    assert first["expires_at"] > first["banned_at"]
    clock.advance(HOUR)  # the IPv6 ban has run out
    doc = await (await client.get("/v1/peers/bans")).json()
    assert doc["count"] == 3
    assert "[2001:db8::1]:8333" not in {b["address"] for b in doc["bans"]}


async def test_unban_lifts_one_ban_saves_it_and_tells_the_core(client: Any,
                                                               node: Node) -> None:
    status, doc = await _delete(client, "203.0.113.9:8333")
    assert status == 200
    assert [(b["address"], b["reason"]) for b in doc["unbanned"]] == [
        ("203.0.113.9:8333", "invalid-headers:high-hash")]
    assert node.lifted == [V4]
    assert not node.book.is_banned(V4)
    assert node.book.is_banned(V4_OTHER_PORT)  # same host, other port: still banned
    # Answered only once on disk: a restart now would not bring it back.
    assert "203.0.113.9:8333" not in node.on_disk()
    assert PeerBook.open(node.path, clock=node.clock).ban_info(V4) is None
    assert set(node.on_disk()) == {"203.0.113.9:18333", "[2001:db8::1]:8333",
                                   "seed.example.org:8333"}


@pytest.mark.parametrize(("addr", "lifted"), [
    ("203.0.113.9", {V4, V4_OTHER_PORT}),  # a bare host: every port
    ("[2001:db8::1]:8333", {V6}),
    ("[2001:DB8:0::1]", {V6}),  # normalised as the book keeps it
    ("2001:db8::1", {V6}),
    ("SEED.example.org:8333", {NAMED}),
])
async def test_the_address_forms(client: Any, node: Node, addr: str,
                                 lifted: set[PeerAddress]) -> None:
    status, doc = await _delete(client, addr)
    assert status == 200, doc
    assert set(node.lifted) == lifted
    assert {b["address"] for b in doc["unbanned"]} == {str(a) for a in lifted}
    assert not set(node.on_disk()) & {str(a) for a in lifted}


async def test_an_address_that_is_not_banned_is_404(client: Any, node: Node) -> None:
    status, doc = await _delete(client, "198.51.100.1:8333")
    assert (status, doc["error"]["code"]) == (404, "not_banned")
    assert node.lifted == []
    status, _ = await _delete(client, "203.0.113.9:9999")  # banned host, other port
    assert status == 404
    assert len(node.on_disk()) == 4


@pytest.mark.parametrize("addr", ["203.0.113.9:0", "203.0.113.9:70000", "host:port",
                                  "[2001:db8::1", "[2001:db8::1]8333", "[]:8333", ":8333",
                                  "a b:1", "x" * 400, "203.0.113.9:٣"])
async def test_bad_addresses_are_400_naming_the_problem(client: Any, node: Node,
                                                        addr: str) -> None:
    status, doc = await _delete(client, addr)
    assert (status, doc["error"]["code"]) == (400, "bad_address")
    assert "HOST:PORT" in doc["error"]["message"]
    assert node.lifted == []


def test_the_address_parser() -> None:
    parse = bans_routes.parse_ban_address
    assert parse(" 10.0.0.1:8333 ") == ("10.0.0.1", 8333)
    assert parse("[::1]:1") == ("::1", 1)
    assert parse("[::1]") == ("::1", None)
    assert parse("::1") == ("::1", None)
    assert parse("node.example") == ("node.example", None)
    with pytest.raises(ApiError, match="is empty"):
        parse("  ")


async def test_beyond_loopback_unban_needs_the_token_and_the_list_does_not(
        view: FakeView, clock: FakeClock, node: Node, make_client: ClientFactory) -> None:
    settings = ApiSettings(bind_host="192.0.2.1", token=TOKEN)
    client = await make_client(_app(view, clock, node, settings))
    assert (await client.get("/v1/peers/bans")).status == 200
    status, doc = await _delete(client, "203.0.113.9:8333")
    assert (status, doc["error"]["code"]) == (401, "unauthorized")
    assert node.book.is_banned(V4)
    status, doc = await _delete(client, "203.0.113.9:8333",
                                headers={"Authorization": "Bearer " + "0" * 32})
    assert (status, doc["error"]["code"]) == (401, "invalid_token")
    status, _ = await _delete(client, "203.0.113.9:8333",
                              headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    assert not node.book.is_banned(V4)
    index = await (await client.get("/")).json()
    auth = {(e["method"], e["path"]): e["auth"] for e in index["endpoints"]}
    assert auth[("DELETE", "/v1/peers/bans/{addr}")] is True
    assert auth[("GET", "/v1/peers/bans")] is False


async def test_a_failed_save_is_500_and_says_the_ban_is_lifted_until_restart(
        client: Any, node: Node) -> None:
    node.path.unlink()
    node.path.mkdir()  # peers.json is now a directory: the atomic rename fails
    (node.path / "in-the-way").write_text("x")
    status, doc = await _delete(client, "203.0.113.9:8333")
    assert (status, doc["error"]["code"]) == (500, "not_saved")
    assert "until the node restarts" in doc["error"]["message"]
    assert not node.book.is_banned(V4)
    assert node.lifted == [V4]


async def test_an_app_without_a_ban_list_says_so(view: FakeView, clock: FakeClock,
                                                 make_client: ClientFactory) -> None:
    app = create_app(view, CollectorRegistry(), clock, None,
                     areas=(*DEFAULT_AREAS, bans_routes.ENDPOINTS))
    client = await make_client(app)
    resp = await client.get("/v1/peers/bans")
    assert (resp.status, (await resp.json())["error"]["code"]) == (404, "bans_unavailable")
