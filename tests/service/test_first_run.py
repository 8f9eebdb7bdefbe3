"""A first run as a new user meets it: the real daemon in-process (store, P2P driver, HTTP
API) on a fake clock, with its only peer unreachable, asked over HTTP and with
``aureond status``. What it logs at start, what it says of a progress it cannot know,
and an error rate judged the same by ``/health``, ``aureond status`` and the metric."""

from __future__ import annotations

import asyncio
import gc
import json
import math
import socket
from collections.abc import AsyncIterator, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from structlog.testing import capture_logs

from aureond.chain.params import REGTEST
from aureond.cli import main
from aureond.clock import FakeClock, SeededRandom
from aureond.service.config import Settings
from aureond.service.daemon import ERROR_POLICY, Daemon
from aureond.service.sdnotify import Notifier

SPINS = 50_000
"""Loop iterations a condition may take to come true (a refused loopback connect
takes a few); bounds every wait without reading the real clock."""


class _ReadyNotifier(Notifier):
    def __init__(self) -> None:
        super().__init__({})
        self.is_ready = asyncio.Event()

    def ready(self, status: str = "") -> bool:
        self.is_ready.set()
        return False


@dataclass
class Running:
    daemon: Daemon
    clock: FakeClock
    url: str
    logs: list[MutableMapping[str, Any]]
    session: aiohttp.ClientSession
    data_dir: Path

    async def get(self, path: str) -> tuple[int, dict[str, Any]]:
        async with self.session.get(self.url + path) as reply:
            body: dict[str, Any] = await reply.json(content_type=None)
            return reply.status, body

    def metric(self, name: str) -> float | None:
        return self.daemon.registry.get_sample_value(name)


@pytest.fixture
def dead_peer() -> Iterator[str]:
    """A loopback port that refuses connections: bound, never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _until(condition: Callable[[], bool], what: str,
                 clock: FakeClock | None = None) -> None:
    """Spin the loop until ``condition``; with ``clock``, move it on by half a second
    every 100 turns (a dial retries its connect after jittered waits on that clock)."""
    for i in range(SPINS):
        if condition():
            return
        if clock is not None and i % 100 == 99:
            clock.advance(0.5)
        await asyncio.sleep(0)
    raise AssertionError(f"never happened: {what}")


@pytest.fixture
async def running(tmp_path: Path, dead_peer: str) -> AsyncIterator[Running]:
    data_dir = tmp_path / "data"
    settings = Settings(network="regtest", data_dir=data_dir,
                        http={"listen": f"127.0.0.1:{_free_port()}"},  # type: ignore[arg-type]
                        p2p={"connect": [dead_peer]},  # type: ignore[arg-type]
                        state={"enabled": False})  # type: ignore[arg-type]
    clock = FakeClock(wall_offset=REGTEST.genesis.time + 3600)
    notifier = _ReadyNotifier()
    daemon = Daemon(settings, REGTEST, clock=clock, rng=SeededRandom(5), notifier=notifier)
    with capture_logs() as logs:
        task = asyncio.create_task(daemon.run())
        try:
            await asyncio.wait_for(notifier.is_ready.wait(), 30)
            assert daemon.http_address is not None
            host, port = daemon.http_address
            async with aiohttp.ClientSession() as session:
                yield Running(daemon, clock, f"http://{host}:{port}", logs, session, data_dir)
        finally:
            daemon.request_stop()
            await asyncio.wait_for(task, 30)
            gc.unfreeze()  # the daemon froze the heap: give the test process its GC back


def _events(logs: list[MutableMapping[str, Any]], name: str) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == name]


async def _status(running: Running, capsys: pytest.CaptureFixture[str],
                  *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["status", "--url", running.url, *extra])
    return code, capsys.readouterr().out


async def test_node_ready_says_what_a_person_needs(running: Running, dead_peer: str) -> None:
    (ready,) = _events(running.logs, "node.ready")
    assert ready == {"event": "node.ready", "log_level": "info", "network": "regtest",
                     "store_height": 0, "data_dir": str(running.data_dir),
                     "listen": running.url, "peers": [dead_peer]}
    (frozen,) = _events(running.logs, "node.heap_frozen")
    assert frozen["log_level"] == "debug"
    assert frozen["objects"] > 0


async def test_with_no_peer_progress_is_unknown_never_100_percent(
        running: Running, capsys: pytest.CaptureFixture[str]) -> None:
    await _until(lambda: bool(_events(running.logs, "p2p.connect_failed")), "a dial",
                 running.clock)
    status, ready = await running.get("/health/ready")
    assert (status, ready["state"], ready["progress"]) == (503, "no-peers", None)
    _, node = await running.get("/v1/status")
    assert node["sync"]["progress"] is None
    code, text = await _status(running, capsys)
    assert code == 2
    assert "  sync:             no-peers, progress unknown\n" in text
    assert "%" not in text.split("Chain", 1)[1]
    code, doc = await _status(running, capsys, "--json")
    assert json.loads(doc)["node"]["sync"]["progress"] is None


def _dials(running: Running) -> int:
    return len(_events(running.logs, "p2p.connect_failed"))


async def _redial(running: Running) -> None:
    """Let the next dial come due and wait until it has failed."""
    dials = _dials(running)
    running.clock.advance(31)
    await _until(lambda: _dials(running) > dials, "another dial", running.clock)


def _errors_row(text: str) -> list[str]:
    (row,) = [line.split() for line in text.splitlines() if "errors:rate" in line]
    return row


async def test_an_error_rate_is_judged_alike_by_health_status_and_the_metric(
        running: Running, capsys: pytest.CaptureFixture[str]) -> None:
    # A few failed dials: too few operations to judge, and nothing pretends otherwise.
    await _until(lambda: bool(_events(running.logs, "p2p.connect_failed")), "a dial",
                 running.clock)
    _, health = await running.get("/health")
    (check,) = health["checks"]["errors:rate"]
    assert (check["status"], check.get("observedValue")) == ("pass", None)
    metric = running.metric("aureond_error_ratio")
    assert metric is not None
    assert math.isnan(metric)
    _, text = await _status(running, capsys)
    assert _errors_row(text) == ["errors:rate", "pass", "-"]

    # The peer stays down and is redialled (backoff, then the breaker's 30 s): within
    # the 5-minute window the failures become enough to judge.
    while True:
        await _redial(running)
        _, health = await running.get("/health")
        (check,) = health["checks"]["errors:rate"]
        if "observedValue" in check:
            break
        assert running.clock.monotonic() < 1_000 + 300, "never enough operations to judge"
    assert check["status"] == "fail"
    rate = check["observedValue"]
    assert rate > ERROR_POLICY.unhealthy_above
    assert health["status"] == "fail"
    judged = running.metric("aureond_error_ratio")  # the critical alert's expression holds
    assert judged is not None
    assert judged > ERROR_POLICY.unhealthy_above
    code, text = await _status(running, capsys)
    assert code == 2
    row = _errors_row(text)
    assert row[:2] == ["errors:rate", "fail"]
    assert row[2].endswith("%")
    assert float(row[2].rstrip("%")) / 100 > ERROR_POLICY.unhealthy_above
