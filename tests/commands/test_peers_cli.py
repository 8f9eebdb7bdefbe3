"""``aureond peers bans`` and ``aureond peers unban`` against a running node.

The node is the real ``aureond run`` process (regtest) with one peer: a loopback peer
that speaks the real protocol and answers the node's ``getheaders`` with a header that
misses its proof-of-work target, so the node bans it for real. The operator lists the
ban, the peer mends its ways, the operator lifts the ban: the change is in
``peers.json`` when the command returns and the node dials the peer again at once.

Bearer tokens are checked against the node's own API app configured as if bound
beyond loopback (a test never listens beyond it), served on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from aureond.api import ApiSettings, create_app
from aureond.api.routes import DEFAULT_AREAS
from aureond.api.routes import bans as bans_routes
from aureond.chain.params import REGTEST
from aureond.cli import main
from aureond.clock import FakeClock
from aureond.service.bans import NodeBans
from aureond.service.peersaver import PeerBookSaver
from aureond.store.peers import PeerAddress, PeerBook
from aureond.stress.fakepeer import Behaviour, FakePeer, ServedChain
from tests.api.fakes import FakeView, RealChain, load_chain
from tests.integration.daemon import DaemonProcess, free_port, wait_for

T = TypeVar("T")
TOKEN = "0ddba11-" + "c3" * 20
Run = Callable[..., tuple[int, str, str]]


class LoopThread:
    """An event loop on a background thread, for servers the test's thread talks to."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


class Banned:
    """The running node and the peer it banned."""

    def __init__(self, daemon: DaemonProcess, peer: FakePeer, loop: LoopThread) -> None:
        self.daemon = daemon
        self.peer = peer
        self.loop = loop
        self.address = f"127.0.0.1:{peer.port}"

    def connections(self) -> int:
        async def count() -> int:
            return self.peer.connections
        return self.loop.call(count())

    def behave(self) -> None:
        async def honest() -> None:
            self.peer.behaviour = Behaviour.HONEST
        self.loop.call(honest())

    def bans_on_disk(self) -> list[dict[str, Any]]:
        doc = json.loads((self.daemon.data_dir / "peers.json").read_text())
        bans: list[dict[str, Any]] = doc["bans"]
        return bans


@pytest.fixture(scope="module")
def banned(loop: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Banned]:
    peer = loop.call(FakePeer(REGTEST, ServedChain(REGTEST.genesis), Behaviour.BAD_POW,
                              nonce=7).start())
    root = tmp_path_factory.mktemp("peers-cli")
    daemon = DaemonProcess(root / "node", network="regtest",
                           connect=[f"127.0.0.1:{peer.port}"],
                           env={"AUREOND_STATE__ENABLED": "false"})
    try:
        daemon.start()
        wait_for(lambda: (daemon.get("/v1/peers/bans") or (0, {}))[1].get("count"), 30,
                 "the node to ban the peer that sent a header without proof of work")
        yield Banned(daemon, peer, loop)
    finally:
        daemon.terminate()
        loop.call(peer.close())


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    def call(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    return call


def test_a_real_ban_listed_lifted_saved_and_redialled(run: Run, banned: Banned) -> None:
    url = banned.daemon.url
    code, out, err = run("peers", "bans", "--url", url, "--json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    (ban,) = doc["bans"]
    assert ban["address"] == banned.address
    assert ban["reason"] == "invalid-headers:high-hash"
    assert ban["banned_at"] < ban["expires_at"]
    assert 0 < ban["expires_in_seconds"] <= 24 * 3600

    code, out, _ = run("peers", "bans", "--url", url)
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == ["ADDRESS", "REASON", "BANNED", "AT", "EXPIRES", "AT", "LEFT"]
    assert row.split()[:2] == [banned.address, "invalid-headers:high-hash"]
    assert re.fullmatch(r"(24h00|23h[0-5]\d)m", row.split()[-1])  # of a day's ban

    assert [b["reason"] for b in banned.bans_on_disk()] == ["invalid-headers:high-hash"]
    dialled = banned.connections()
    banned.behave()
    code, out, err = run("peers", "unban", banned.address, "--url", url)
    assert (code, err) == (0, "")
    assert out == (f"unbanned {banned.address} (was: invalid-headers:high-hash)\n"
                   "the node may connect to it again\n")
    assert banned.bans_on_disk() == []  # saved before the command returned

    wait_for(lambda: banned.connections() > dialled, 15, "the node to dial the peer again")

    def established() -> bool:
        got = banned.daemon.get("/v1/peers")
        return got is not None and any(
            p["address"] == banned.address and p["state"] == "established"
            for p in got[1]["peers"])

    wait_for(established, 15, "the handshake with the unbanned peer")
    assert run("peers", "bans", "--url", url)[:2] == (0, "no bans\n")
    code, _, err = run("peers", "unban", banned.address, "--url", url)
    assert code == 1
    assert "not_banned" in err


@pytest.mark.parametrize("address", ["127.0.0.1:70000", "127.0.0.1:", "[::1"])
def test_a_bad_address_is_exit_2_with_the_nodes_reason(run: Run, banned: Banned,
                                                       address: str) -> None:
    code, out, err = run("peers", "unban", address, "--url", banned.daemon.url, "--json")
    assert code == 2
    doc = json.loads(out)
    assert (doc["ok"], doc["http_status"], doc["node_error"]["code"]) == (
        False, 400, "bad_address")
    assert "HOST:PORT" in err


def test_an_empty_address_is_refused_before_asking(run: Run) -> None:
    code, _, err = run("peers", "unban", "  ", "--url", f"127.0.0.1:{free_port()}")
    assert code == 2
    assert "give the address" in err


def test_an_unreachable_node_is_exit_3(run: Run) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for argv in (("peers", "bans"), ("peers", "unban", "10.0.0.1:8333")):
        code, out, err = run(*argv, "--url", url)
        assert code == 3, argv
        assert out == ""
        assert url in err


# --- the bearer token -------------------------------------------------------------------

class SecuredNode:
    """The node's API app, configured as bound beyond loopback, over a real peer book."""

    def __init__(self, loop: LoopThread, chain: RealChain, directory: Path) -> None:
        self._loop = loop
        clock = FakeClock(start=1_000.0, wall_offset=chain.headers[-1].time)
        self.book = PeerBook.open(directory / "peers.json", clock=clock)
        self.book.ban(PeerAddress("203.0.113.9", 8333), "bad-block", 3600)
        self.saver = PeerBookSaver(self.book)
        self.lifted: list[PeerAddress] = []
        app = create_app(FakeView(chain, clock), CollectorRegistry(), clock,
                         ApiSettings(bind_host="192.0.2.1", token=TOKEN),
                         areas=(*DEFAULT_AREAS, bans_routes.ENDPOINTS))
        app[bans_routes.BAN_VIEW_KEY] = NodeBans(self.book, lift=self.lifted.append,
                                                 persist=self.saver.flush)
        self._runner = web.AppRunner(app)
        self.url = f"http://127.0.0.1:{loop.call(self._start())}"

    async def _start(self) -> int:
        self._task = asyncio.create_task(self.saver.run())
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port: int = self._runner.addresses[0][1]
        return port

    async def _stop(self) -> None:
        await self._runner.cleanup()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    def close(self) -> None:
        self._loop.call(self._stop())


@pytest.fixture
def secured(loop: LoopThread, data_dir: Path, tmp_path: Path) -> Iterator[SecuredNode]:
    node = SecuredNode(loop, load_chain(data_dir), tmp_path)
    yield node
    node.close()


def test_unban_beyond_loopback_needs_the_token(run: Run, secured: SecuredNode,
                                               tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUREOND_HTTP_TOKEN", raising=False)
    assert run("peers", "bans", "--url", secured.url)[0] == 0  # reading needs none
    code, _, err = run("peers", "unban", "203.0.113.9:8333", "--url", secured.url)
    assert code == 2
    assert "--token-file" in err
    assert secured.book.is_banned(PeerAddress("203.0.113.9", 8333))
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    code, out, err = run("peers", "unban", "203.0.113.9", "--url", secured.url,
                         "--token-file", str(token_file))
    assert (code, err) == (0, "")
    assert out.startswith("unbanned 203.0.113.9:8333 (was: bad-block)")
    assert secured.lifted == [PeerAddress("203.0.113.9", 8333)]
    assert not PeerBook.open(secured.book.path, clock=FakeClock()).bans()
