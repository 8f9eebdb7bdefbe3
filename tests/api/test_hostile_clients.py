"""Hostile clients over real loopback sockets against the served app (``start_http``):
hang-ups mid-body, slow heads and bodies, idle sockets past the cap, floods, broken
request lines, ``Expect: 100-continue`` with a huge body.

The node's clock is a fake: deadlines pass when the test advances it, never by waiting.
What the test does wait for is the server's answer on a socket, bounded by ``IO_WAIT``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import pytest
import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry

from aureond.api import ApiSettings, create_app, start_http
from aureond.api.connections import Phase
from aureond.api.server import GuardedSite
from aureond.clock import FakeClock
from aureond.errors import ConfigError
from aureond.monitoring.error_rate import ErrorRateTracker
from tests.api.fakes import FakeView
from tests.integration.hostile import abort_post, exchange, probe, read_answer

IO_WAIT = 5.0
"""Longest wait for the server to act on a socket (it normally takes milliseconds)."""
SETTINGS = ApiSettings(head_timeout=2.0, body_timeout=2.0, idle_timeout=4.0,
                       send_timeout=4.0, max_connections=6, fd_reserve=0)


class Served:
    def __init__(self, runner: web.AppRunner, site: GuardedSite, clock: FakeClock,
                 registry: CollectorRegistry, tracker: ErrorRateTracker) -> None:
        self.runner = runner
        self.site = site
        self.clock = clock
        self.registry = registry
        self.tracker = tracker
        self.port = int(runner.addresses[0][1])

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    def closed(self, reason: str) -> float:
        return self.metric("aureond_http_connections_closed_total", reason=reason)

    async def advance(self, seconds: float) -> None:
        """Move the node's clock, one sweep tick at a time, letting the sweeper run."""
        tick = self.site.guard.limits.tick
        steps = round(seconds / tick)
        for _ in range(steps):
            self.clock.advance(tick)
            for _ in range(3):
                await asyncio.sleep(0)


async def settle(cond: Callable[[], bool], what: str) -> None:
    """Wait (bounded) for the server to have processed what the client did."""
    for _ in range(int(IO_WAIT / 0.005)):
        if cond():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"not within {IO_WAIT} s: {what}")


Serve = Callable[..., "contextlib.AbstractAsyncContextManager[Served]"]


@pytest.fixture
def serve(view: FakeView, clock: FakeClock) -> Serve:
    @contextlib.asynccontextmanager
    async def run(settings: ApiSettings = SETTINGS) -> AsyncIterator[Served]:
        registry = CollectorRegistry()
        tracker = ErrorRateTracker(clock)
        app = create_app(view, registry, clock, settings, outcomes=tracker)
        runner, site = await start_http(app, "127.0.0.1", 0, shutdown_timeout=1.0)
        try:
            yield Served(runner, site, clock, registry, tracker)
        finally:
            await runner.cleanup()

    return run


async def _open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def _closed_by_server(reader: asyncio.StreamReader) -> bool:
    """True when the server closes the connection (EOF or reset) within IO_WAIT."""
    try:
        async with asyncio.timeout(IO_WAIT):
            while await reader.read(4096):
                pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


async def _still_open(reader: asyncio.StreamReader) -> bool:
    """True when nothing arrives and the connection stays open for a few loop turns."""
    for _ in range(20):
        await asyncio.sleep(0)
    return not reader.at_eof() and reader.exception() is None


# --- client hang-ups ------------------------------------------------------------------

@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
async def test_a_client_hanging_up_mid_body_is_an_abort_not_a_node_error(
        serve: Serve, reset: bool) -> None:
    async with serve() as s:
        with structlog.testing.capture_logs() as logs:
            for _ in range(5):
                await abort_post(s.port, reset=reset)
            await settle(lambda: s.metric("aureond_http_client_aborts_total",
                                          route="/v1/proofs/verify") == 5, "5 aborts")
        await settle(lambda: s.site.guard.open == 0, "the connections forgotten")
        await s.advance(10.0)  # long past every deadline: nothing left to close
        assert sum(s.closed(r) for r in ("head_timeout", "idle_timeout", "body_timeout")) == 0
        assert (s.tracker.successes, s.tracker.errors) == (0, 0)
        assert s.metric("aureond_http_requests_total", route="/v1/proofs/verify",
                        status_class="5xx") == 0
        events = [e["event"] for e in logs]
        assert "http.unhandled_error" not in events
        assert events.count("http.client_aborted") == 5
        assert all(e["log_level"] == "debug" for e in logs if e["event"] == "http.client_aborted")
        answer = await probe(s.port, "/v1/tip")
        assert answer is not None
        assert answer.status == 200


async def test_a_body_that_breaks_its_chunked_framing_is_400_not_500(serve: Serve) -> None:
    async with serve() as s:
        answer = await exchange(s.port, b"POST /v1/proofs/verify HTTP/1.1\r\nHost: x\r\n"
                                b"Content-Type: application/json\r\n"
                                b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
        assert answer is not None
        assert answer.status == 400
        assert s.tracker.errors == 0


# --- slow and idle clients --------------------------------------------------------------

async def test_a_slow_request_head_is_closed_at_the_head_timeout(serve: Serve) -> None:
    async with serve() as s:
        reader, writer = await _open(s.port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        await settle(lambda: s.site.guard.open == 1, "the connection accepted")
        await s.advance(1.5)
        writer.write(b"X-Slow: 1\r\n")  # still trickling: no extra time for that
        assert await _still_open(reader)
        await s.advance(0.5)
        assert await _closed_by_server(reader)
        assert s.closed("head_timeout") == 1
        writer.close()


async def test_an_idle_kept_alive_connection_is_closed_at_the_idle_timeout(
        serve: Serve) -> None:
    async with serve() as s:
        reader, writer = await _open(s.port)
        writer.write(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await read_answer(reader)).status == 200
        await s.advance(3.5)  # past the head timeout, within the idle one: kept
        writer.write(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await read_answer(reader)).status == 200
        await s.advance(4.0)
        assert await _closed_by_server(reader)
        assert s.closed("idle_timeout") == 1
        writer.close()


async def test_a_trickled_body_is_cut_off_at_the_body_timeout(serve: Serve) -> None:
    async with serve() as s:
        reader, writer = await _open(s.port)
        writer.write(b"POST /v1/proofs/verify HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{")
        await settle(lambda: s.site.guard.in_phase(Phase.BODY) == 1, "the body being read")
        await s.advance(2.0)
        assert await _closed_by_server(reader)
        assert s.closed("body_timeout") == 1
        await settle(lambda: s.site.guard.open == 0, "released")
        assert s.metric("aureond_http_client_aborts_total", route="/v1/proofs/verify") == 0
        assert s.tracker.errors == 0
        writer.close()


# --- the cap ----------------------------------------------------------------------------

async def test_idle_sockets_beyond_the_cap_do_not_lock_the_probe_out(serve: Serve) -> None:
    async with serve() as s:
        held = [await _open(s.port) for _ in range(12)]  # twice the cap, sending nothing
        await settle(lambda: s.closed("evicted") == 6, "6 evictions")
        assert s.site.guard.open == 6
        for _ in range(5):
            answer = await probe(s.port)
            assert answer is not None
            assert answer.status == 200
        assert s.site.guard.open <= 6
        assert s.metric("aureond_http_connections_limit") == 6
        for _, writer in held:
            writer.close()


async def test_with_every_connection_busy_a_new_one_is_refused_at_once(
        serve: Serve) -> None:
    async with serve() as s:
        held = []
        for _ in range(6):  # six bodies still arriving: all busy, none evictable
            reader, writer = await _open(s.port)
            writer.write(b"POST /v1/proofs/verify HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         b"application/json\r\nContent-Length: 100\r\n\r\n{")
            held.append((reader, writer))
        await settle(lambda: s.site.guard.in_phase(Phase.BODY) == 6, "6 bodies being read")
        reader, writer = await _open(s.port)
        assert await _closed_by_server(reader)
        assert s.closed("over_capacity") == 1
        writer.close()
        for _, w in held:
            w.close()


async def test_the_cap_is_checked_against_the_open_file_limit(
        view: FakeView, clock: FakeClock) -> None:
    app = create_app(view, CollectorRegistry(), clock,
                     ApiSettings(max_connections=200, fd_reserve=100))
    with pytest.raises(ConfigError, match=r"^http\.max_connections: ") as caught:
        await start_http(app, "127.0.0.1", 0, open_files=256)
    assert "at most 156" in str(caught.value)


# --- floods -----------------------------------------------------------------------------

async def test_a_flood_of_v1_requests_leaves_health_and_metrics_their_own_budget(
        serve: Serve) -> None:
    settings = ApiSettings(rate_burst=5, rate_per_second=1.0, monitoring_rate_burst=3,
                           monitoring_rate_per_second=1.0, fd_reserve=0)
    async with serve(settings) as s:
        statuses = [(await probe(s.port, "/v1/status")) for _ in range(8)]
        assert [a.status for a in statuses if a is not None] == [200] * 5 + [429] * 3
        for path in ("/health", "/metrics", "/health/live"):
            answer = await probe(s.port, path)
            assert answer is not None, path
            assert answer.status == 200, path
        refused = await probe(s.port, "/health/ready")  # the monitoring budget has an end
        assert refused is not None
        assert refused.status == 429
        assert (await probe(s.port, "/v1/tip")) is not None


# --- broken requests --------------------------------------------------------------------

BROKEN = [
    b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET " + b"a" * 10_000 + b" HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
]


async def test_a_broken_request_is_one_info_line_without_traceback(
        serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    async with serve() as s:
        with structlog.testing.capture_logs() as logs, caplog.at_level(logging.DEBUG):
            for data in BROKEN:
                answer = await exchange(s.port, data)
                assert answer is not None, data[:30]
                assert answer.status == 400, data[:30]
        assert [e["event"] for e in logs] == ["http.bad_request"] * len(BROKEN)
        assert all(e["log_level"] == "info" and "exc_info" not in e for e in logs)
        assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
        assert s.closed("bad_request") == len(BROKEN)


async def test_non_http_bytes_on_a_fresh_connection_are_one_info_line_too(
        serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    async with serve() as s:
        tls_hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32) + b"\r\n\r\n"
        with structlog.testing.capture_logs() as logs, caplog.at_level(logging.DEBUG):
            await exchange(s.port, tls_hello)
        assert [(e["event"], e["log_level"], e["error"]) for e in logs] == [
            ("http.bad_request", "info", "BadHttpMethod")]
        assert not [r for r in caplog.records if r.exc_info]


# --- Expect: 100-continue ----------------------------------------------------------------

def _expecting(length: int) -> bytes:
    return (b"POST /v1/proofs/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
            b"\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n" % length)


async def test_expect_continue_with_a_body_over_the_cap_is_413_and_never_100(
        serve: Serve) -> None:
    async with serve() as s:
        reader, writer = await _open(s.port)
        writer.write(_expecting(100_000_000))
        async with asyncio.timeout(IO_WAIT):
            answer = await read_answer(reader)
        assert answer.interim == ()
        assert answer.status == 413
        assert b"body_too_large" in answer.body
        assert answer.headers.get("connection") == "close"
        assert s.metric("aureond_http_requests_total", route="/v1/proofs/verify",
                        status_class="4xx") == 1
        writer.close()


async def test_expect_continue_within_the_cap_gets_100_then_the_answer(
        serve: Serve) -> None:
    async with serve() as s:
        reader, writer = await _open(s.port)
        body = b'{"proof": "00"}'
        writer.write(_expecting(len(body)))
        async with asyncio.timeout(IO_WAIT):
            assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
            writer.write(body)
            answer = await read_answer(reader)
        assert answer.status == 400  # "00" is no proof: an answer about the body
        assert b"proof" in answer.body
        writer.close()


async def test_an_unknown_expectation_is_417(serve: Serve) -> None:
    async with serve() as s:
        answer = await exchange(s.port, b"GET /v1/tip HTTP/1.1\r\nHost: x\r\n"
                                b"Expect: teapot\r\n\r\n")
        assert answer is not None
        assert answer.status == 417
        assert b"expectation_failed" in answer.body
