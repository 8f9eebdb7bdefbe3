"""The connection guard on its own: phases, deadlines, the cap and its eviction, and the
cap's derivation from the open-file limit. Fake transports and a fake clock; the same
guard over real sockets is in ``test_hostile_clients.py``."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from aureond.api.connections import (
    MAX_DERIVED,
    MIN_CONNECTIONS,
    ConnectionGuard,
    ConnectionLimits,
    GuardedConnection,
    Phase,
    connection_cap,
    sweep_forever,
)
from aureond.clock import FakeClock
from aureond.errors import ConfigError

LIMITS = ConnectionLimits(max_connections=3, head_timeout=10.0, body_timeout=5.0,
                          idle_timeout=30.0, send_timeout=20.0)


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.closed: str | None = None

    def close(self) -> None:
        self.closed = self.closed or "fin"

    def abort(self) -> None:
        self.closed = self.closed or "rst"

    def is_closing(self) -> bool:
        return self.closed is not None


class Inner(asyncio.Protocol):
    """aiohttp's request handler, as far as the guard can tell: what it was told."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def connection_made(self, transport: Any) -> None:
        self.calls.append("made")

    def data_received(self, data: bytes) -> None:
        self.calls.append(f"data:{data.decode()}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.calls.append("lost")

    def pause_writing(self) -> None:
        self.calls.append("pause")

    def resume_writing(self) -> None:
        self.calls.append("resume")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class Harness:
    def __init__(self, clock: FakeClock, limits: ConnectionLimits = LIMITS) -> None:
        self.closed: list[str] = []
        self.guard = ConnectionGuard(limits, clock, on_close=self.closed.append)
        self.inners: list[Inner] = []

    def accept(self) -> tuple[GuardedConnection, FakeTransport]:
        def make() -> Inner:
            inner = Inner()
            self.inners.append(inner)
            return inner

        conn = GuardedConnection(self.guard, make)
        transport = FakeTransport()
        conn.connection_made(transport)
        return conn, transport


def test_a_connection_that_sends_no_complete_head_is_closed_at_the_head_timeout(
        clock: FakeClock) -> None:
    h = Harness(clock)
    conn, transport = h.accept()
    clock.advance(9.0)
    conn.data_received(b"GET / HTTP/1.1\r\n")  # trickling does not buy time
    clock.advance(0.9)
    assert h.guard.sweep() == 0
    clock.advance(0.1)
    assert h.guard.sweep() == 1
    assert (transport.closed, conn.closed_reason, h.closed) == ("fin", "head_timeout",
                                                                ["head_timeout"])
    assert h.guard.open == 0
    conn.connection_lost(None)  # asyncio reports it later: passed on, nothing counted twice
    assert h.inners[0].calls == ["made", "data:GET / HTTP/1.1\r\n", "lost"]
    assert h.closed == ["head_timeout"]


def test_each_phase_has_its_deadline(clock: FakeClock) -> None:
    h = Harness(clock)
    conn, transport = h.accept()
    conn.request_started()
    conn.body_started()
    clock.advance(4.9)
    assert h.guard.sweep() == 0
    conn.body_received()  # in time: now the node's own work, with no deadline
    clock.advance(1_000.0)
    assert h.guard.sweep() == 0
    conn.request_finished()  # kept alive
    assert h.guard.in_phase(Phase.IDLE) == 1
    clock.advance(29.0)
    conn.data_received(b"GET /")  # the next request starts: its head has head_timeout
    assert h.guard.in_phase(Phase.HEAD) == 1
    clock.advance(9.9)
    assert h.guard.sweep() == 0
    clock.advance(0.1)
    assert h.guard.sweep() == 1
    assert conn.closed_reason == "head_timeout"
    assert transport.closed == "fin"


@pytest.mark.parametrize(("steps", "after", "reason"), [
    (("request_started", "body_started"), 5.0, "body_timeout"),
    (("request_started", "request_finished"), 30.0, "idle_timeout"),
    ((), 10.0, "head_timeout"),
])
def test_the_reason_is_the_phase_that_ran_out(clock: FakeClock, steps: tuple[str, ...],
                                              after: float, reason: str) -> None:
    h = Harness(clock)
    conn, _ = h.accept()
    for step in steps:
        getattr(conn, step)()
    clock.advance(after - 0.01)
    assert h.guard.sweep() == 0
    clock.advance(0.01)
    assert h.guard.sweep() == 1
    assert h.closed == [reason]


def test_an_unread_answer_is_cut_off_at_the_send_timeout_unless_read(
        clock: FakeClock) -> None:
    h = Harness(clock)
    conn, transport = h.accept()
    conn.request_started()
    conn.pause_writing()
    clock.advance(19.0)
    conn.resume_writing()  # the client read some: the stall is over
    clock.advance(19.0)
    assert h.guard.sweep() == 0
    conn.pause_writing()
    conn.pause_writing()  # asyncio's high-water mark, reported again: no fresh time
    clock.advance(20.0)
    assert h.guard.sweep() == 1
    assert (transport.closed, h.closed) == ("rst", ["send_timeout"])  # unflushable: reset
    assert h.inners[0].calls == ["made", "pause", "resume", "pause", "pause"]


def test_at_the_cap_the_connection_waiting_longest_makes_room(clock: FakeClock) -> None:
    h = Harness(clock)
    first, first_t = h.accept()
    second, second_t = h.accept()
    third, third_t = h.accept()
    first.request_started()   # being answered: never evicted
    second.request_started()
    second.request_finished()  # waits from now on; third has waited since its accept
    clock.advance(1.0)
    _, newest_t = h.accept()
    assert (third_t.closed, third.closed_reason) == ("fin", "evicted")
    assert second.closed_reason is None
    assert first_t.closed is None
    assert second_t.closed is None
    assert newest_t.closed is None
    assert h.guard.open == 3
    assert h.closed == ["evicted"]
    _, after_t = h.accept()  # next in line: second (idle), not first (busy)
    assert [t.closed for t in (second_t, first_t, after_t)] == ["fin", None, None]
    assert h.guard.open == 3


def test_the_order_of_eviction_is_the_order_connections_began_to_wait(
        clock: FakeClock) -> None:
    h = Harness(clock)
    a, _ = h.accept()
    b, _ = h.accept()
    c, _ = h.accept()
    a.request_started()
    a.request_finished()  # a waits again, now the most recent
    h.accept()
    h.accept()
    assert [x.closed_reason for x in (a, b, c)] == [None, "evicted", "evicted"]


def test_with_every_connection_busy_a_new_one_is_refused_at_once(clock: FakeClock) -> None:
    h = Harness(clock)
    busy = [h.accept()[0] for _ in range(3)]
    for conn in busy:
        conn.request_started()
    refused, transport = h.accept()
    assert (transport.closed, refused.closed_reason) == ("rst", "over_capacity")
    assert h.closed == ["over_capacity"]
    assert len(h.inners) == 3  # aiohttp's handler was never made for it
    refused.data_received(b"GET / HTTP/1.1\r\n\r\n")
    refused.connection_lost(None)
    assert h.guard.open == 3
    busy[0].request_finished()
    busy[0].connection_lost(None)  # one leaves: the next connection is admitted
    _, transport = h.accept()
    assert transport.closed is None


def test_a_connection_the_client_closed_is_not_tracked_again(clock: FakeClock) -> None:
    h = Harness(clock)
    conn, _ = h.accept()
    conn.request_started()
    conn.connection_lost(ConnectionResetError())  # the client hung up mid-request
    conn.request_finished()  # the handler ends after that
    assert h.guard.open == 0
    clock.advance(100.0)
    assert h.guard.sweep() == 0
    assert h.closed == []


def test_a_connection_closed_by_the_guard_stays_closed(clock: FakeClock) -> None:
    h = Harness(clock)
    conn, _ = h.accept()
    clock.advance(10.0)
    h.guard.sweep()
    conn.request_started()  # a request already queued inside aiohttp
    conn.request_finished()
    assert h.guard.open == 0
    assert conn.closed_reason == "head_timeout"
    clock.advance(100.0)
    assert h.guard.sweep() == 0


async def test_the_sweeper_checks_every_tick_of_the_clock(clock: FakeClock) -> None:
    limits = ConnectionLimits(max_connections=3, head_timeout=2.5, body_timeout=5.0,
                              idle_timeout=30.0, send_timeout=20.0)
    assert limits.tick == 0.25
    h = Harness(clock, limits)
    conn, _ = h.accept()
    task = asyncio.create_task(sweep_forever(h.guard, clock))
    try:
        for _ in range(9):
            await asyncio.sleep(0)
            clock.advance(limits.tick)
        await asyncio.sleep(0)
        assert conn.closed_reason is None
        clock.advance(limits.tick)
        for _ in range(3):
            await asyncio.sleep(0)
        assert conn.closed_reason == "head_timeout"
    finally:
        task.cancel()


@pytest.mark.parametrize(("timeouts", "tick"), [
    ((10.0, 10.0, 30.0, 30.0), 1.0),
    ((0.5, 10.0, 30.0, 30.0), 0.05),
    ((0.01, 10.0, 30.0, 30.0), 0.02),
])
def test_tick_is_a_tenth_of_the_shortest_deadline_within_bounds(
        timeouts: tuple[float, float, float, float], tick: float) -> None:
    assert ConnectionLimits(10, *timeouts).tick == pytest.approx(tick)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan])
def test_limits_refuse_nonsense(bad: float) -> None:
    with pytest.raises(ValueError, match="timeouts"):
        ConnectionLimits(10, bad, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="max_connections"):
        ConnectionLimits(0, 1.0, 1.0, 1.0, 1.0)


# --- the cap against the open-file limit ------------------------------------------------

def test_zero_derives_the_cap_from_the_open_file_limit() -> None:
    assert connection_cap(0, 512, 4096) == 3584
    assert connection_cap(0, 0, 1024) == 1024
    assert connection_cap(0, 512, 512 + MIN_CONNECTIONS) == MIN_CONNECTIONS
    assert connection_cap(0, 512, 1_048_576) == MAX_DERIVED  # a container's limit
    assert connection_cap(20_000, 512, 1_048_576) == 20_000  # configured: as asked


def test_a_configured_cap_within_the_limit_is_kept() -> None:
    assert connection_cap(1000, 512, 4096) == 1000
    assert connection_cap(3584, 512, 4096) == 3584


def test_a_configured_cap_beyond_the_limit_is_a_config_error_naming_the_way_out() -> None:
    with pytest.raises(ConfigError) as caught:
        connection_cap(4000, 512, 4096)
    assert caught.value.field == "http.max_connections"
    message = str(caught.value)
    for says in ("4096", "at most 3584", "LimitNOFILE", "0 derives"):
        assert says in message


def test_a_reserve_that_leaves_too_little_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        connection_cap(0, 1020, 1024)
    assert caught.value.field == "http.fd_reserve"
    assert "leaves 4 for HTTP connections" in str(caught.value)
