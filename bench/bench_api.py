"""HTTP API latency and throughput: ``/health`` and ``/metrics`` next to a bare handler.

Run: ``.venv/bin/python -m bench.bench_api [--requests N] [--concurrency C]``.

One process, one uvloop event loop, loopback only: the aiohttp client and the server
share the loop (and one core), so the figures include client overhead and are best read
against the bare aiohttp handler measured in the same run. The API is the full pipeline
(metrics, error, rate-limit, body-cap middlewares) over a node view on the real mainnet
header run; ``/metrics`` renders the node's whole metric set including the process and
GC collectors.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
import uvloop
from aiohttp import web
from prometheus_client import CollectorRegistry

from aureond.api import (
    ApiSettings,
    HeaderInfo,
    PeerInfo,
    SyncInfo,
    SyncState,
    TipInfo,
    create_app,
    start_http,
)
from aureond.chain.header import BlockHeader, iter_raw_headers
from aureond.clock import SystemClock
from aureond.monitoring.checks import evaluate_peers, evaluate_store, evaluate_sync
from aureond.monitoring.health import HealthDashboard, HealthReport
from aureond.monitoring.prometheus import NodeMetrics
from bench.common import data_dir, markdown_table

START = 822528


class BenchView:
    """A steady synced node on the real header run (no fakes of the API itself)."""

    network = "mainnet"
    version = "bench"

    def __init__(self, headers: Sequence[BlockHeader], clock: SystemClock) -> None:
        self._headers = headers
        self._by_hash = {h.hash: i for i, h in enumerate(headers)}
        self._clock = clock
        tip = headers[-1]
        self._dashboard = HealthDashboard(clock, version="bench")
        self._dashboard.register("sync", "blocksBehind", lambda: evaluate_sync(
            START + len(headers) - 1, START + len(headers) - 1, 600.0))
        self._dashboard.register("peers", "connections", lambda: evaluate_peers(8))
        self._dashboard.register("store", "writable", lambda: evaluate_store(True))
        self._tip = TipInfo(START + len(headers) - 1, tip.hash, 1 << 94, tip.time)

    def uptime_seconds(self) -> float:
        return 1.0

    def tip(self) -> TipInfo:
        return self._tip

    def header_at(self, height: int) -> HeaderInfo | None:
        i = height - START
        return HeaderInfo(self._headers[i], height, True) if 0 <= i < len(self._headers) else None

    def header_by_hash(self, block_hash: bytes) -> HeaderInfo | None:
        i = self._by_hash.get(block_hash)
        return None if i is None else HeaderInfo(self._headers[i], START + i, True)

    def best_peer_height(self) -> int | None:
        return self._tip.height

    def sync(self) -> SyncInfo:
        return SyncInfo(SyncState.SYNCED, 1.0)

    def peers(self) -> Sequence[PeerInfo]:
        return ()

    def health(self) -> HealthReport:
        return self._dashboard.evaluate()


async def _bare(_request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    p50_ms: float
    p99_ms: float
    rps: float
    statuses: str


async def _load(session: aiohttp.ClientSession, url: str, total: int,
                concurrency: int) -> tuple[list[float], float, dict[int, int]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            start = time.perf_counter()
            async with session.get(url) as resp:
                await resp.read()
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
            latencies.append(time.perf_counter() - start)

    began = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())
    return latencies, time.perf_counter() - began, statuses


async def _measure(session: aiohttp.ClientSession, name: str, url: str, total: int,
                   concurrency: int) -> Result:
    await _load(session, url, min(200, total), concurrency)  # warm-up
    latencies, elapsed, statuses = await _load(session, url, total, concurrency)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return Result(name, statistics.median(latencies) * 1e3, p99 * 1e3, total / elapsed,
                  ",".join(f"{k}x{v}" for k, v in sorted(statuses.items())))


async def run(total: int, concurrency: int) -> list[Result]:
    raw = (data_dir() / "headers" / "mainnet_822528-830592.bin").read_bytes()
    headers = [BlockHeader.parse(r) for r in iter_raw_headers(raw)]
    clock = SystemClock()
    registry = CollectorRegistry()
    node_metrics = NodeMetrics(registry, version="bench", network="mainnet")
    app = create_app(BenchView(headers, clock), registry, clock,
                     ApiSettings(rate_per_second=1e9, rate_burst=10**9,
                                 monitoring_rate_per_second=1e9, monitoring_rate_burst=10**9),
                     node_metrics=node_metrics)
    bare = web.Application()
    bare.router.add_get("/", _bare)
    api_runner, _ = await start_http(app, "127.0.0.1", 0)
    bare_runner, _ = await start_http_bare(bare)
    api_port = api_runner.addresses[0][1]
    bare_port = bare_runner.addresses[0][1]
    try:
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            base = f"http://127.0.0.1:{api_port}"
            return [
                await _measure(session, "bare aiohttp handler", f"http://127.0.0.1:{bare_port}/",
                               total, concurrency),
                await _measure(session, "GET /health/live", f"{base}/health/live", total,
                               concurrency),
                await _measure(session, "GET /health", f"{base}/health", total, concurrency),
                await _measure(session, "GET /v1/headers/830000", f"{base}/v1/headers/830000",
                               total, concurrency),
                await _measure(session, "GET /metrics", f"{base}/metrics", total, concurrency),
            ]
    finally:
        await api_runner.cleanup()
        await bare_runner.cleanup()


async def start_http_bare(app: web.Application) -> tuple[web.AppRunner, web.TCPSite]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    total = max(1, min(args.requests, 200_000))
    concurrency = max(1, min(args.concurrency, 256))
    results = uvloop.run(run(total, concurrency))
    print(f"{total} requests per endpoint, {concurrency} concurrent, one loop, loopback\n")
    print(markdown_table(["endpoint", "p50 ms", "p99 ms", "requests/s", "statuses"],
                         [(r.name, f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", f"{r.rps:,.0f}",
                           r.statuses) for r in results]))


if __name__ == "__main__":
    main()
