"""Raw-socket HTTP clients, well-behaved and hostile, for the daemon's HTTP API.

Everything here speaks HTTP/1.1 by hand over asyncio streams on loopback, so a test
(or ``bench.bench_http_abuse``) can do what no HTTP library does on purpose: hang up
halfway through a body, send a request head one line at a time, hold idle sockets,
send a broken request line, or ask for ``100 Continue`` with a huge body. Every loop
is bounded by a count or a deadline, and every connection opened is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

__all__ = [
    "Answer",
    "ProbeLog",
    "abort_post",
    "exchange",
    "flood",
    "hold_idle",
    "parse_metric",
    "probe",
    "probe_during",
    "read_answer",
    "slowloris",
]

HOST = "127.0.0.1"
READ_LIMIT = 1 << 20
"""Largest answer body read back (the API's answers are far smaller)."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    interim: tuple[int, ...] = ()
    """Interim (1xx) status codes received before the final answer."""


async def read_answer(reader: asyncio.StreamReader) -> Answer:
    """One response: interim 1xx lines skipped (and remembered), body by length."""
    interim: list[int] = []
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if 100 <= status < 200:
            interim.append(status)
            continue
        length = min(int(headers.get("content-length", "0")), READ_LIMIT)
        body = await reader.readexactly(length) if length else b""
        return Answer(status, headers, body, tuple(interim))


def _request(method: str, path: str, headers: Sequence[tuple[str, str]] = (),
             body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body and not any(name.lower() == "content-length" for name, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def exchange(port: int, data: bytes, within: float = 5.0) -> Answer | None:
    """Send ``data`` on a fresh connection and read one answer; None if none came
    within ``within`` seconds."""
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(within):
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(data)
            await writer.drain()
            return await read_answer(reader)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
        return None
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def probe(port: int, path: str = "/health", within: float = 5.0) -> Answer | None:
    """What a monitoring probe does: a fresh connection, one GET, then close."""
    return await exchange(port, _request("GET", path, [("Connection", "close")]), within)


@dataclass(slots=True)
class ProbeLog:
    """The answers (status, seconds) a probe got; None: no answer."""

    results: list[tuple[int | None, float]] = field(default_factory=list)

    def count(self, status: int | None) -> int:
        return sum(1 for s, _ in self.results if s == status)

    @property
    def statuses(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s, _ in self.results:
            key = "none" if s is None else str(s)
            out[key] = out.get(key, 0) + 1
        return out

    def quantile(self, q: float) -> float:
        times = sorted(t for s, t in self.results if s is not None)
        return times[min(len(times) - 1, int(q * len(times)))] if times else float("nan")


async def probe_during(port: int, stop: asyncio.Event, *, path: str = "/health",
                       interval: float = 0.05, max_probes: int = 1000,
                       within: float = 5.0) -> ProbeLog:
    """Probe ``path`` every ``interval`` s until ``stop`` is set (at most ``max_probes``)."""
    log = ProbeLog()
    for _ in range(max_probes):
        if stop.is_set():
            break
        started = time.monotonic()
        answer = await probe(port, path, within)
        log.results.append((None if answer is None else answer.status,
                            time.monotonic() - started))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
    return log


async def flood(port: int, seconds: float, *, connections: int = 8,
                path: str = "/v1/status", max_requests: int = 1_000_000) -> dict[int, int]:
    """Keep-alive GETs of ``path`` as fast as the server answers, on ``connections``
    sockets, for ``seconds``; the count of answers by status."""
    counts: dict[int, int] = {}
    deadline = time.monotonic() + seconds
    budget = [max_requests]
    request = _request("GET", path)

    async def one() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while time.monotonic() < deadline and budget[0] > 0:
                budget[0] -= 1
                writer.write(request)
                answer = await asyncio.wait_for(read_answer(reader), 10)
                counts[answer.status] = counts.get(answer.status, 0) + 1
                if answer.headers.get("connection", "").lower() == "close":
                    writer.close()
                    reader, writer = await asyncio.open_connection(HOST, port)
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            counts[0] = counts.get(0, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(one() for _ in range(connections)))
    return counts


def _reset_on_close(writer: asyncio.StreamWriter) -> None:
    """SO_LINGER 0: closing sends RST instead of FIN (a client that crashed)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def abort_post(port: int, path: str = "/v1/proofs/verify", *, declared: int = 4000,
                     sent: int = 1000, reset: bool = False) -> None:
    """POST a JSON body declared ``declared`` bytes long, send ``sent`` of them, then
    hang up (FIN, or RST with ``reset``) without reading an answer."""
    _reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(_request("POST", path, [("Content-Type", "application/json"),
                                             ("Content-Length", str(declared))]))
        writer.write(b'{"proof": "' + b"0" * max(0, sent - 11))
        await writer.drain()
        await asyncio.sleep(0.01)  # let the server start reading the body
        if reset:
            _reset_on_close(writer)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def slowloris(port: int, connections: int, seconds: float, *,
                    line_every: float = 0.2) -> tuple[int, float]:
    """Open ``connections`` sockets that send a request head one header line every
    ``line_every`` s and never finish it. Returns (how many the server closed within
    ``seconds``, seconds until the last of those was closed)."""
    started = time.monotonic()
    deadline = started + seconds
    closed_at: list[float] = []

    async def one() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            for i in range(int(seconds / line_every) + 1):
                with contextlib.suppress(TimeoutError):
                    data = await asyncio.wait_for(reader.read(4096), line_every)
                    if not data:  # the server closed it
                        closed_at.append(time.monotonic() - started)
                        return
                if time.monotonic() >= deadline:
                    return
                writer.write(f"X-Slow-{i}: 1\r\n".encode())
        except OSError:
            closed_at.append(time.monotonic() - started)
        finally:
            writer.close()

    await asyncio.gather(*(one() for _ in range(connections)))
    return len(closed_at), max(closed_at, default=0.0)


@contextlib.asynccontextmanager
async def hold_idle(port: int, connections: int) -> AsyncIterator[int]:
    """Open up to ``connections`` sockets that send nothing; yields how many connected.
    All are closed on exit."""
    writers: list[asyncio.StreamWriter] = []
    try:
        for _ in range(connections):
            try:
                _reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 2)
            except (OSError, TimeoutError):
                continue
            writers.append(writer)
        yield len(writers)
    finally:
        for writer in writers:
            writer.close()


def parse_metric(text: str, name: str, labels: dict[str, str] | None = None) -> float:
    """The sum of the samples of ``name`` in Prometheus text that carry ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        metric, _, value = line.rpartition(" ")
        base, _, rest = metric.partition("{")
        if base != name:
            continue
        if labels and not all(f'{k}="{v}"' in rest for k, v in labels.items()):
            continue
        total += float(value)
    return total
