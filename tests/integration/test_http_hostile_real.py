"""Hostile HTTP clients against the real ``aureond run``, following the real regtest
node, over real loopback sockets: the monitoring probe must keep its answers.

Each test starts its own daemon with short deadlines (fractions of a second, so the
tests take seconds); every loop and connection count is bounded.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from aureond.devnet import RegtestNode
from tests.integration.daemon import DaemonProcess, wait_for
from tests.integration.hostile import (
    abort_post,
    exchange,
    flood,
    hold_idle,
    parse_metric,
    probe,
    probe_during,
    read_answer,
    slowloris,
)

FAST = {"AUREOND_HTTP__HEAD_TIMEOUT": "0.5", "AUREOND_HTTP__BODY_TIMEOUT": "0.5",
        "AUREOND_HTTP__IDLE_TIMEOUT": "1.0", "AUREOND_HTTP__SEND_TIMEOUT": "1.0"}
"""Deadlines short enough that a test sees them pass within a second or two."""
CLOSE_SLACK = 1.5
"""Seconds beyond a deadline within which the daemon must have closed (sweep tick,
scheduling on a shared machine)."""


@pytest.fixture(scope="module")
def node(shared_regtest_node: RegtestNode) -> RegtestNode:
    if shared_regtest_node.rpc.getblockcount() < 5:
        shared_regtest_node.generate(5)
    return shared_regtest_node


def _peer(node: RegtestNode) -> str:
    host, port = node.p2p_addr
    return f"{host}:{port}"


@pytest.fixture
def start(node: RegtestNode, tmp_path: Path) -> Iterator[Any]:
    """Start a daemon following ``node`` (extra env, open-file limit); stopped after."""
    daemons: list[DaemonProcess] = []

    def run(env: Mapping[str, str] = FAST, nofile: int | None = None) -> DaemonProcess:
        daemon = DaemonProcess(tmp_path / f"aureond-{len(daemons)}", connect=[_peer(node)],
                               env=env, nofile=nofile)
        daemons.append(daemon)
        daemon.start()
        wait_for(lambda: (daemon.get("/health") or (0,))[0] == 200, 30, "/health 200")
        return daemon

    yield run
    for daemon in daemons:
        assert daemon.terminate() == 0, daemon.log_tail()


def _metrics(daemon: DaemonProcess) -> str:
    got = daemon.get("/metrics")
    assert got is not None
    assert got[0] == 200
    return str(got[1])


def _tracebacks(daemon: DaemonProcess) -> list[dict[str, Any]]:
    return [line for line in daemon.log_lines() if "exception" in line]


@pytest.mark.node_kinds("sv")
def test_a_hundred_aborted_posts_do_not_fail_health(start: Any) -> None:
    daemon = start()

    async def hang_ups() -> None:
        for i in range(100):
            await abort_post(daemon.http_port, reset=i % 2 == 1)

    asyncio.run(hang_ups())
    wait_for(lambda: parse_metric(_metrics(daemon), "aureond_http_client_aborts_total") >= 90,
             10, "the hang-ups counted as client aborts")
    got = daemon.get("/health")
    assert got is not None
    status, doc = got
    assert status == 200, doc
    assert doc["status"] in {"pass", "warn"}
    assert doc["checks"]["errors:rate"][0]["status"] == "pass"
    text = _metrics(daemon)
    # A hang-up that lands before aiohttp hands the request over never reaches the API
    # (nothing to count); the rest are aborts, and none is a 5xx or an error.
    assert 90 <= parse_metric(text, "aureond_http_client_aborts_total",
                              {"route": "/v1/proofs/verify"}) <= 100
    assert parse_metric(text, "aureond_http_requests_total",
                        {"route": "/v1/proofs/verify", "status_class": "5xx"}) == 0
    # Aborts are no operations of the node's: the ratio is 0, or not judged yet (NaN,
    # too few operations in the window), never raised by them.
    ratio = parse_metric(text, "aureond_error_ratio")
    assert ratio == 0 or math.isnan(ratio), ratio
    assert _tracebacks(daemon) == []
    assert "http.unhandled_error" not in {line.get("event") for line in daemon.log_lines()}


@pytest.mark.node_kinds("sv")
def test_a_loopback_flood_of_v1_leaves_the_health_probe_answered(start: Any) -> None:
    daemon = start()

    async def flood_and_probe() -> tuple[dict[int, int], Any]:
        stop = asyncio.Event()
        prober = asyncio.create_task(probe_during(daemon.http_port, stop, interval=0.1,
                                                  max_probes=60))
        counts = await flood(daemon.http_port, 3.0, connections=8)
        stop.set()
        return counts, await prober

    counts, log = asyncio.run(flood_and_probe())
    assert counts.get(429, 0) > 100, counts  # the flood did run out of its budget
    assert len(log.results) >= 10
    assert log.statuses == {"200": len(log.results)}, log.statuses


@pytest.mark.node_kinds("sv")
def test_slow_heads_slow_bodies_and_idle_connections_are_closed_in_time(
        start: Any) -> None:
    daemon = start()
    port = daemon.http_port

    async def slow_body() -> float:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /v1/proofs/verify HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     b"application/json\r\nContent-Length: 500\r\n\r\n{")
        started = asyncio.get_running_loop().time()
        try:
            for _ in range(50):  # a byte every 0.1 s, never the whole body
                await writer.drain()
                if await _eof_within(reader, 0.1):
                    break
                writer.write(b" ")
        except ConnectionError:
            pass
        finally:
            writer.close()
        return asyncio.get_running_loop().time() - started

    async def idle_after_one_request() -> float:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await read_answer(reader)).status == 200
        started = asyncio.get_running_loop().time()
        closed = await _eof_within(reader, 5.0)
        writer.close()
        assert closed
        return asyncio.get_running_loop().time() - started

    closed, last = asyncio.run(slowloris(port, 100, 3.0, line_every=0.1))
    assert closed == 100
    assert last <= 0.5 + CLOSE_SLACK
    assert asyncio.run(slow_body()) <= 0.5 + CLOSE_SLACK
    assert 0.9 <= asyncio.run(idle_after_one_request()) <= 1.0 + CLOSE_SLACK
    text = _metrics(daemon)
    closes = {reason: parse_metric(text, "aureond_http_connections_closed_total",
                                   {"reason": reason})
              for reason in ("head_timeout", "body_timeout", "idle_timeout")}
    assert closes["head_timeout"] >= 100
    assert closes["body_timeout"] == 1
    assert closes["idle_timeout"] >= 1
    got = daemon.get("/health")
    assert got is not None
    assert got[0] == 200


async def _eof_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    try:
        data = await asyncio.wait_for(reader.read(4096), seconds)
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return not data


@pytest.mark.node_kinds("sv")
def test_more_idle_connections_than_the_cap_leave_health_and_the_store_working(
        start: Any) -> None:
    # The cap is derived: an open-file limit of 256 less a reserve of 128. The
    # deadlines are long, so only the cap stands between 400 idle sockets and the
    # process's file descriptors.
    daemon = start({"AUREOND_HTTP__FD_RESERVE": "128", "AUREOND_HTTP__HEAD_TIMEOUT": "60",
                    "AUREOND_HTTP__IDLE_TIMEOUT": "60"}, nofile=256)
    port = daemon.http_port

    async def hold_and_probe() -> tuple[int, list[int | None], int | None]:
        async with hold_idle(port, 400) as opened:
            answers = []
            for _ in range(10):
                answer = await probe(port, within=5.0)
                answers.append(None if answer is None else answer.status)
            # The store still gets file descriptors: a state snapshot is a new file.
            snap = await exchange(port, b"POST /v1/state/snapshots HTTP/1.1\r\nHost: x\r\n"
                                  b"Content-Length: 0\r\nConnection: close\r\n\r\n", 10.0)
            return opened, answers, None if snap is None else snap.status

    opened, answers, snapshot = asyncio.run(hold_and_probe())
    assert opened == 400
    assert answers == [200] * 10
    assert snapshot == 201
    text = _metrics(daemon)
    assert parse_metric(text, "aureond_http_connections_limit") == 128
    assert parse_metric(text, "aureond_http_connections") <= 128
    assert parse_metric(text, "aureond_http_connections_closed_total",
                        {"reason": "evicted"}) >= 400 - 128
    log = daemon.log_path.read_text()
    assert "Too many open files" not in log
    assert "EMFILE" not in log
    listening = next(line for line in daemon.log_lines() if line.get("event") == "http.listening")
    assert (listening["max_connections"], listening["open_file_limit"]) == (128, 256)


BROKEN = (
    b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET " + b"a" * 10_000 + b" HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
    b"GARBAGE\r\n\r\n",  # not even a method: what a scanner or TLS client sends
)


@pytest.mark.node_kinds("sv")
def test_broken_request_lines_are_one_info_line_each_without_traceback(start: Any) -> None:
    daemon = start()

    async def send_all() -> list[int | None]:
        out = []
        for i in range(25):
            answer = await exchange(daemon.http_port, BROKEN[i % len(BROKEN)])
            out.append(None if answer is None else answer.status)
        return out

    assert asyncio.run(send_all()) == [400] * 25
    wait_for(lambda: sum(1 for line in daemon.log_lines()
                         if line.get("event") == "http.bad_request") == 25, 5,
             "25 http.bad_request lines")
    lines = [line for line in daemon.log_lines() if line.get("event") == "http.bad_request"]
    assert {line["level"] for line in lines} == {"info"}
    assert _tracebacks(daemon) == []
    assert not [line for line in daemon.log_lines() if line.get("level") == "error"]
    assert parse_metric(_metrics(daemon), "aureond_http_connections_closed_total",
                        {"reason": "bad_request"}) == 25


@pytest.mark.node_kinds("sv")
def test_expect_continue_with_a_huge_body_is_413_and_never_100(start: Any) -> None:
    daemon = start()

    async def ask() -> tuple[bytes, bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", daemon.http_port)
        try:
            writer.write(b"POST /v1/proofs/verify HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 100000000\r\n"
                         b"Expect: 100-continue\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            rest = await asyncio.wait_for(reader.read(), 5)  # then the daemon closes
            return head, rest
        finally:
            writer.close()

    head, rest = asyncio.run(ask())
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b"100 Continue" not in head + rest
    assert json.loads(rest)["error"]["code"] == "body_too_large"


@pytest.mark.node_kinds("sv")
def test_a_connection_cap_beyond_the_open_file_limit_stops_start_up(tmp_path: Path) -> None:
    daemon = DaemonProcess(tmp_path / "aureond", connect=["127.0.0.1:1"], nofile=256,
                           env={"AUREOND_HTTP__MAX_CONNECTIONS": "1000"})
    daemon.start(wait_ready=False)
    assert daemon.proc is not None
    assert daemon.proc.wait(30) == 3
    tail = daemon.log_tail()
    assert "http.max_connections" in tail
    assert "open-file limit is 256" in tail
