"""``aureond status`` against a loopback HTTP server that answers with documents made
by the node's own code (the health dashboard and the API's JSON renderers)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from aureond.api.readiness import assess_sync
from aureond.api.render import peers_summary, sync_json, tip_json
from aureond.api.view import PeerInfo, TipInfo
from aureond.cli import build_parser, main
from aureond.clock import FakeClock
from aureond.commands.status import (
    DEFAULT_URL,
    NodeUnreachableError,
    fetch_status,
    normalize_url,
)
from aureond.monitoring.checks import evaluate_peers, evaluate_store, evaluate_sync
from aureond.monitoring.health import HEALTH_MEDIA_TYPE, HealthDashboard

TIP_HASH = bytes(range(32))
TIP_HEIGHT = 300

Route = tuple[int, str, bytes]


class _Server:
    """A loopback HTTP server answering ``routes[path]``; 404 for anything else."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                code, content_type, body = routes.get(
                    self.path, (404, "application/json", b'{"error": "not found"}'))
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,),
                                        daemon=True)
        self._thread.start()

    def serve(self, health: dict[str, Any], health_code: int, status: dict[str, Any]) -> None:
        self.routes["/health"] = (health_code, HEALTH_MEDIA_TYPE, json.dumps(health).encode())
        self.routes["/v1/status"] = (200, "application/json", json.dumps(status).encode())

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    try:
        yield srv
    finally:
        srv.close()


def _documents(*, peers: int, best: int | None) -> tuple[dict[str, Any], int, dict[str, Any]]:
    """(health body, its HTTP status, /v1/status body) for a node at TIP_HEIGHT."""
    clock = FakeClock(wall_offset=1_700_000_000.0)
    now = clock.wall()
    dashboard = HealthDashboard(clock, version="9.9.9", description="aureond SPV node")
    dashboard.register("peers", "connections", lambda: evaluate_peers(peers))
    dashboard.register("store", "writable", lambda: evaluate_store(True))
    dashboard.register("sync", "blocksBehind",
                       lambda: evaluate_sync(TIP_HEIGHT, best if peers else None, 30.0))
    report = dashboard.evaluate()
    sync = assess_sync(tip_height=TIP_HEIGHT, tip_time=now - 30, best_peer_height=best,
                       connected_peers=peers, now=now)
    peer_list = [PeerInfo(slot=1, address="127.0.0.1:18444",
                          state="established" if peers else "idle", breaker="closed",
                          score=0.0)]
    status = {"network": "sv-regtest", "version": "9.9.9", "uptime_seconds": 61.5,
              "tip": tip_json(TipInfo(TIP_HEIGHT, TIP_HASH, 601, int(now) - 30)),
              "best_peer_height": best, "sync": sync_json(sync),
              "peers": peers_summary(peer_list)}
    return report.to_health_json(), report.http_status, status


STATES = [
    pytest.param(1, TIP_HEIGHT, "pass", 0, id="synced"),
    pytest.param(1, TIP_HEIGHT + 500, "warn", 1, id="syncing"),
    pytest.param(0, None, "fail", 2, id="no-peer"),
]


@pytest.mark.parametrize(("peers", "best", "status", "code"), STATES)
def test_exit_code_is_the_overall_status(server: _Server, capsys: pytest.CaptureFixture[str],
                                         peers: int, best: int | None, status: str,
                                         code: int) -> None:
    server.serve(*_documents(peers=peers, best=best))
    assert main(["status", "--url", server.url]) == code
    out = capsys.readouterr().out
    assert f"status: {status} " in out


def test_the_report_shows_checks_chain_sync_and_peers(
        server: _Server, capsys: pytest.CaptureFixture[str]) -> None:
    server.serve(*_documents(peers=1, best=TIP_HEIGHT + 500))
    assert main(["status", "--url", server.url]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"aureond 9.9.9 (sv-regtest) at {server.url}"
    assert lines[1] == "status: warn (Degraded)"
    assert lines[2] == "uptime: 62 s"
    text = "\n".join(lines)
    assert "peers:connections  pass    1 connections" in text
    assert "store:writable     pass    yes" in text
    assert ("sync:blocksBehind  warn    500 blocks     syncing: tip 300, best peer 800"
            in text)
    assert f"  tip:              {TIP_HEIGHT} {TIP_HASH[::-1].hex()}" in lines
    assert f"  best peer height: {TIP_HEIGHT + 500}" in lines
    assert "  sync:             initial-sync, 37.50%" in lines
    assert "    - tip 300 is 500 blocks behind the best peer height 800" in lines
    assert "  total 1: established 1; banned 0" in lines


def test_a_failing_node_answers_503_and_its_report_is_still_read(
        server: _Server, capsys: pytest.CaptureFixture[str]) -> None:
    health, code, status = _documents(peers=0, best=None)
    assert code == 503
    server.serve(health, code, status)
    assert main(["status", "--url", server.url]) == 2
    out = capsys.readouterr().out
    assert "peers:connections  fail    0 connections  no connected peer" in out
    assert "  best peer height: -" in out
    assert "    - no connected peer" in out


def test_json_carries_both_documents(server: _Server,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    health, code, status = _documents(peers=1, best=TIP_HEIGHT)
    server.serve(health, code, status)
    assert main(["status", "--url", server.url, "--json"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line) == {"url": server.url, "status": "pass", "health": health,
                                "node": status}


def _closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_an_unreachable_node_exits_3_saying_where_and_what_to_check(
        capsys: pytest.CaptureFixture[str]) -> None:
    url = _closed_url()
    assert main(["status", "--url", url]) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"aureond: cannot get the status of the node at {url}: "
                                   "GET /health failed (")
    assert "`aureond run` is running" in captured.err
    assert "--url" in captured.err


def test_an_unreachable_node_in_json_mode_is_a_json_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    url = _closed_url()
    assert main(["status", "--url", url, "--json"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False
    assert doc["url"] == url
    assert url in doc["error"]


@pytest.mark.parametrize(("routes", "says"), [
    pytest.param({}, "GET /health answered HTTP 404", id="not-aureond"),
    pytest.param({"/health": (200, "text/html", b"<html>hi</html>")},
                 "GET /health did not answer JSON", id="html"),
    pytest.param({"/health": (200, "application/json", b"[1, 2]")},
                 "did not answer a JSON object", id="json-array"),
    pytest.param({"/health": (200, "application/json", b'{"checks": {}}')},
                 "GET /health answered an unexpected document", id="health-shape"),
    pytest.param({"/health": (500, "application/json", b"{}")},
                 "GET /health answered HTTP 500", id="server-error"),
])
def test_an_answer_that_is_not_a_node_status_exits_3(
        server: _Server, capsys: pytest.CaptureFixture[str], routes: dict[str, Route],
        says: str) -> None:
    health, code, status = _documents(peers=1, best=TIP_HEIGHT)
    server.serve(health, code, status)
    server.routes.pop("/health")
    server.routes.update(routes)
    assert main(["status", "--url", server.url]) == 3
    assert says in capsys.readouterr().err


def test_a_status_route_missing_exits_3(server: _Server,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    health, code, _ = _documents(peers=1, best=TIP_HEIGHT)
    server.routes["/health"] = (code, HEALTH_MEDIA_TYPE, json.dumps(health).encode())
    assert main(["status", "--url", server.url]) == 3
    assert "GET /v1/status answered HTTP 404" in capsys.readouterr().err


def test_a_node_that_never_answers_times_out() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never replies
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(NodeUnreachableError) as caught:
            fetch_status(url, timeout=0.2)
    assert caught.value.url == url
    assert "timed out" in caught.value.reason


@pytest.mark.parametrize(("given", "expected"), [
    ("http://127.0.0.1:8787", "http://127.0.0.1:8787"),
    ("http://127.0.0.1:8787/", "http://127.0.0.1:8787"),
    ("127.0.0.1:9000", "http://127.0.0.1:9000"),
    ("  https://node.example:443/ ", "https://node.example:443"),
    ("HTTP://[::1]:8787", "HTTP://[::1]:8787"),
])
def test_urls_are_normalised(given: str, expected: str) -> None:
    assert normalize_url(given) == expected


@pytest.mark.parametrize("given", ["file:///etc/passwd", "ftp://127.0.0.1:21"])
def test_other_schemes_are_refused(given: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--url", given]) == 3
    assert "only http:// and https://" in capsys.readouterr().err


def test_the_default_url_is_the_default_listen_address() -> None:
    args = build_parser().parse_args(["status"])
    assert (args.url, args.json) == (DEFAULT_URL, False)
    assert DEFAULT_URL == "http://127.0.0.1:8787"
