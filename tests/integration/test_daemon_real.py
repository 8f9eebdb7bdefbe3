"""The operator contract of the real ``aureond run`` process against the real node.

``/metrics`` (Prometheus text and OpenMetrics, checked by the client's parsers and by
``promtool``), ``/health`` following the peer away and back, ``/health/ready`` during
and after initial sync, and ``aureond status`` against the running daemon; against
both real nodes (``node_kind``).

Initial sync is made observable deterministically, not by racing a fast local sync:
the daemon talks to the node through :class:`HeadersGate`, a relay that passes every
byte but holds the node's first ``headers`` message until the test opens it. While it
is held the daemon has completed the handshake (it learnt the node's height from
``version``) and has asked ``getheaders`` (the node's answer is what is held), so it is
in initial sync with nothing received, for as long as the test looks; opening the
gate lets the sync finish.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from aureond import __version__
from aureond.devnet import RegtestNode
from tests.integration.daemon import DaemonProcess, wait_for

CHAIN_HEIGHT = 300
GATE_HOLD_LIMIT = 60.0
"""Seconds the gate holds a message at most (a bound; tests open it much sooner)."""
FRAME_HEADER = 24
MAX_FRAME_PAYLOAD = 32 * 1024 * 1024


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def _status_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aureond", "status", "--url", url, *args],
                          capture_output=True, text=True, timeout=30, check=False)


def _status_until(url: str, code: int, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``aureond status`` until it exits with ``code`` (bounded) and return that run.

    On a busy machine a moment of event-loop lag (warn at 0.1 s) is an honest warn, so
    a passing state is awaited rather than sampled once."""
    runs: list[subprocess.CompletedProcess[str]] = []

    def attempt() -> bool:
        runs.append(_status_cli(url, *args))
        return runs[-1].returncode == code

    wait_for(attempt, 30, f"`aureond status` to exit {code}", interval=0.2)
    return runs[-1]


def _scrape(url: str, accept: str | None = None) -> tuple[str, str]:
    """(Content-Type, body) of ``GET /metrics``."""
    headers = {"Accept": accept} if accept else {}
    request = urllib.request.Request(url + "/metrics", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as resp:
        return resp.headers["Content-Type"], resp.read().decode()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _health(daemon: DaemonProcess) -> tuple[int, dict[str, Any]] | None:
    got = daemon.get("/health")
    return None if got is None or not isinstance(got[1], dict) else (got[0], got[1])


def _health_is(daemon: DaemonProcess, status: str) -> bool:
    got = _health(daemon)
    return got is not None and got[1].get("status") == status


# --- a relay that holds the node's headers --------------------------------------------

def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return bytes(buf)


class HeadersGate:
    """A loopback TCP relay to ``upstream`` that holds the first ``headers`` message
    from upstream (and so everything after it) until :meth:`open`; see the module doc.
    ``holding`` is set once such a message is waiting."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self._upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self.holding = threading.Event()
        self._opened = threading.Event()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept_loop)

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self._upstream, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            client.settimeout(None)
            self._sockets += [client, server]
            self._spawn(self._pump_bytes, client, server)
            self._spawn(self._pump_messages, server, client)

    def _pump_bytes(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        self._hang_up(src, dst)

    def _pump_messages(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while True:
                header = _recv_exact(src, FRAME_HEADER)
                length = int.from_bytes(header[16:20], "little")
                if length > MAX_FRAME_PAYLOAD:
                    break
                payload = _recv_exact(src, length)
                if header[4:16].rstrip(b"\0") == b"headers" and not self._opened.is_set():
                    self.holding.set()
                    self._opened.wait(GATE_HOLD_LIMIT)
                dst.sendall(header + payload)
        self._hang_up(src, dst)

    @staticmethod
    def _hang_up(*socks: socket.socket) -> None:
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def open(self) -> None:
        self._opened.set()

    def close(self) -> None:
        self._closed.set()
        self._opened.set()
        self._listener.close()
        for sock in self._sockets:
            self._hang_up(sock)
            sock.close()
        for thread in self._threads:
            thread.join(5)


# --- fixtures -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def chain_node(shared_regtest_node: RegtestNode) -> RegtestNode:
    if shared_regtest_node.rpc.getblockcount() < CHAIN_HEIGHT:
        shared_regtest_node.generate(CHAIN_HEIGHT - shared_regtest_node.rpc.getblockcount())
    return shared_regtest_node


@pytest.fixture(scope="module")
def synced_daemon(chain_node: RegtestNode,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """One daemon synced with the module's node, with ``/health`` passing."""
    host, port = chain_node.p2p_addr
    with DaemonProcess(tmp_path_factory.mktemp("synced") / "aureond",
                       network=chain_node.network, connect=[f"{host}:{port}"]) as daemon:
        daemon.start()
        daemon.wait_height(CHAIN_HEIGHT)
        wait_for(lambda: _health_is(daemon, "pass"), 20, "/health to pass")
        yield daemon
        assert daemon.terminate() == 0


@pytest.fixture
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        message = "promtool not found (Debian package `prometheus`)"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return path


# --- /metrics -----------------------------------------------------------------------

def test_metrics_parse_and_match_the_node(synced_daemon: DaemonProcess,
                                          chain_node: RegtestNode) -> None:
    content_type, body = _scrape(synced_daemon.url)
    assert content_type.startswith("text/plain")
    samples = _samples(body)
    height = chain_node.rpc.getblockcount()
    assert samples[("aureond_header_height", ())] == height
    assert samples[("aureond_best_peer_height", ())] == height
    assert samples[("aureond_headers_processed_total", (("result", "accepted"),))] == height
    build = ("aureond_build_info", (("network", chain_node.network), ("version", __version__)))
    assert build in samples
    assert any(name.startswith("process_") for name, _ in samples)

    def health_gauges() -> dict[str, float]:
        return {labels[0][1]: value for (name, labels), value in
                _samples(_scrape(synced_daemon.url)[1]).items()
                if name == "aureond_health_status"}

    # The gauges are refreshed by the housekeeping loop (every second), so they may
    # trail /health by up to a second.
    wait_for(lambda: set(health_gauges().values()) == {0.0}, 10,
             "every aureond_health_status gauge to be 0 (pass)")
    assert set(health_gauges()) == {"clock", "errors", "event_loop", "peers", "store", "sync"}


def test_metrics_pass_promtool(synced_daemon: DaemonProcess, promtool: str) -> None:
    _, body = _scrape(synced_daemon.url)
    result = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                            text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", result.stdout  # no lint problem reported
    assert result.stderr.strip() == "", result.stderr


def test_openmetrics_when_the_accept_header_asks(synced_daemon: DaemonProcess,
                                                 chain_node: RegtestNode) -> None:
    content_type, body = _scrape(
        synced_daemon.url, accept="application/openmetrics-text; version=1.0.0; charset=utf-8")
    assert content_type.startswith("application/openmetrics-text")
    assert body.endswith("# EOF\n")
    families = {family.name: family
                for family in openmetrics_families(body)}  # type: ignore[no-untyped-call]
    height = families["aureond_header_height"].samples[0].value
    assert height == chain_node.rpc.getblockcount()
    assert families["aureond_headers_processed"].type == "counter"


# --- /health and aureond status -------------------------------------------------------

def test_synced_node_with_a_peer_is_pass_and_ready(synced_daemon: DaemonProcess) -> None:
    seen: list[tuple[int, dict[str, Any]]] = []

    def passing() -> bool:
        got = _health(synced_daemon)
        if got is not None:
            seen.append(got)
        return got is not None and got[1]["status"] == "pass"

    wait_for(passing, 20, "/health to pass")
    status, body = seen[-1]
    assert (status, body["status"]) == (200, "pass")
    assert {key: entries[0]["status"] for key, entries in body["checks"].items()} == {
        "clock:offset": "pass", "errors:rate": "pass", "event_loop:lag": "pass",
        "peers:connections": "pass", "store:writable": "pass", "sync:blocksBehind": "pass"}
    # The node and aureond share this machine's clock: the offset is the round trip.
    assert abs(body["checks"]["clock:offset"][0]["observedValue"]) < 5
    assert synced_daemon.get("/health/ready") == (
        200, {"status": "ready", "state": "synced", "progress": 1.0, "ready": True,
              "reasons": []})


def test_status_command_reports_the_running_daemon(synced_daemon: DaemonProcess,
                                                   chain_node: RegtestNode) -> None:
    height = chain_node.rpc.getblockcount()
    text = _status_until(synced_daemon.url, 0)
    assert "status: pass (Healthy)" in text.stdout
    assert f"tip:              {height} {chain_node.rpc.getbestblockhash()}" in text.stdout
    assert f"best peer height: {height}" in text.stdout
    assert "sync:             synced, 100.00%" in text.stdout
    for key in ("clock:offset", "errors:rate", "event_loop:lag", "peers:connections",
                "store:writable", "sync:blocksBehind"):
        assert key in text.stdout

    as_json = _status_until(synced_daemon.url, 0, "--json")
    doc = json.loads(as_json.stdout)
    assert doc["status"] == "pass"
    assert doc["url"] == synced_daemon.url
    assert doc["node"]["tip"]["height"] == height
    assert doc["health"]["serviceId"] == "aureond"


def test_ready_is_503_during_initial_sync_and_200_after(
        chain_node: RegtestNode, tmp_path: Path) -> None:
    gate = HeadersGate(chain_node.p2p_addr)
    try:
        with DaemonProcess(tmp_path / "aureond", network=chain_node.network,
                           connect=[f"{gate.address[0]}:{gate.address[1]}"]) as daemon:
            daemon.start()
            assert gate.holding.wait(30), "the node's headers never reached the gate"
            # The daemon asked for these headers after the handshake, so it already
            # knows the peer's height: no waiting needed from here on.
            status, body = daemon.get("/health/ready") or (0, {})
            assert (status, body["status"], body["state"]) == (503, "not_ready",
                                                               "initial-sync")
            assert body["progress"] == 0.0
            assert body["reasons"] == [f"tip 0 is {CHAIN_HEIGHT} blocks behind the best "
                                       f"peer height {CHAIN_HEIGHT}"]
            assert daemon.get("/health/live") == (200, {"status": "alive"})
            health = _health(daemon)
            assert health is not None
            assert (health[0], health[1]["status"]) == (200, "warn")
            assert health[1]["checks"]["sync:blocksBehind"][0]["status"] == "warn"
            syncing = _status_cli(daemon.url)
            assert syncing.returncode == 1, syncing.stdout + syncing.stderr
            assert "status: warn (Degraded)" in syncing.stdout

            gate.open()
            daemon.wait_height(CHAIN_HEIGHT, timeout=30)
            wait_for(lambda: (daemon.get("/health/ready") or (0,))[0] == 200, 20,
                     "/health/ready to answer 200")
            assert "status: pass (Healthy)" in _status_until(daemon.url, 0).stdout
            assert daemon.terminate() == 0
    finally:
        gate.close()


def test_health_fails_without_the_only_peer_and_passes_when_it_returns(
        regtest_node: RegtestNode, tmp_path: Path) -> None:
    regtest_node.generate(20)
    host, port = regtest_node.p2p_addr
    # A short breaker: while the node is down, three failed dials would otherwise
    # keep the address closed for the default 30 s after it is back.
    with DaemonProcess(tmp_path / "aureond", network=regtest_node.network,
                       connect=[f"{host}:{port}"],
                       env={"AUREOND_P2P__BREAKER_OPEN_SECONDS": "1"}) as daemon:
        daemon.start()
        daemon.wait_height(20)
        wait_for(lambda: _health_is(daemon, "pass"), 20, "/health to pass")

        regtest_node.stop()
        wait_for(lambda: _health_is(daemon, "fail"), 20, "/health to fail")
        got = _health(daemon)
        assert got is not None
        status, body = got
        assert status == 503
        peers = body["checks"]["peers:connections"][0]
        assert (peers["status"], peers["observedValue"]) == ("fail", 0)
        assert "peers:connections: no connected peer" in body["output"]
        peers_gauge = ("aureond_health_status", (("component", "peers"),))
        wait_for(lambda: _samples(_scrape(daemon.url)[1])[peers_gauge] == 2.0, 10,
                 "the peers health gauge to show fail (2)")
        down = _status_cli(daemon.url)
        assert down.returncode == 2, down.stdout + down.stderr
        assert "status: fail (Unhealthy)" in down.stdout

        regtest_node.start()
        wait_for(lambda: _health_is(daemon, "pass"), 30, "/health to pass again")
        assert (daemon.get("/health/ready") or (0,))[0] == 200
        assert daemon.terminate() == 0
