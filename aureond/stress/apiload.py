"""``api-load``: concurrent HTTP clients on a node while it syncs at full speed.

The node stack (:mod:`aureond.stress.nodestack`, real clock) syncs a synthetic chain
whose blocks commit to merkle trees (:mod:`aureond.stress.commit`) from loopback
peers, and serves the real HTTP API (``create_app``: every middleware, the node's
metrics) on loopback. A load generator in its own process
(:mod:`aureond.stress.loadgen`) starts requests at fixed rates on ``/health``,
``/metrics`` and ``POST /v1/proofs/verify`` from the moment the sync starts until
after it ends: the node starts syncing once the load generator says it is sending (a
sync of 200,000 headers takes about a second, less than the generator takes to start).

Each request is an operation. It succeeds when the answer is right for the moment it
was asked: ``/health`` 200 or 503 with a health document; ``/metrics`` 200 with the
node's metrics; a proof ``"valid": true``, or 404 when its block was not yet synced
(judged against the node's tip history). Latencies are split into during and after
the sync.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from aureond import __version__
from aureond.api import ApiSettings, create_app, start_http
from aureond.api.activity import RequestActivity
from aureond.chain.params import REGTEST
from aureond.clock import SeededRandom
from aureond.heap import freeze_heap
from aureond.monitoring.prometheus import NodeMetrics
from aureond.store.peers import PeerAddress
from aureond.stress.chaingen import mine_raw
from aureond.stress.commit import committed_merkle_of, electrum_proofs
from aureond.stress.context import RunContext
from aureond.stress.fakepeer import Behaviour, FakePeer, ServedChain
from aureond.stress.measure import summarize_latencies
from aureond.stress.nodestack import AcceleratedClock, NodeStack, StackView
from aureond.stress.peers import spacing_until_now
from aureond.stress.report import Check, Outcome

__all__ = ["HEALTH_P99_TARGET_MS", "run_api_load"]

HEALTH_P99_TARGET_MS = 5.0
LOADGEN_SLACK = 30.0
_NOTES = 5


class _Timeline:
    """The node's tip height at any moment, from the recorder's tip changes."""

    def __init__(self, changes: Sequence[tuple[float, int]]) -> None:
        self._times = [t for t, _ in changes]
        self._heights = [h for _, h in changes]

    def height_at(self, when: float) -> int:
        i = bisect.bisect_right(self._times, when)
        return self._heights[i - 1] if i else 0


def _judge(sample: Sequence[Any], timeline: _Timeline) -> str | None:
    """None when the answer was right; else why not."""
    kind, start, seconds, status, ok, height = sample
    if kind == "health":
        return None if status in (200, 503) and ok else f"/health answered {status}"
    if kind == "metrics":
        return None if status == 200 and ok else f"/metrics answered {status}"
    if status == 200 and ok:
        return None
    if status == 404 and timeline.height_at(start + seconds) < height:
        return None  # not synced yet: the right answer
    return f"proof at height {height} answered {status} (valid={ok})"


async def _wait_synced(stack: NodeStack, tip_hash: bytes, deadline: float) -> float | None:
    if await stack.wait_for_tip(tip_hash, deadline):
        return time.monotonic()
    return None


async def _loadgen(config: dict[str, Any], out_file: Path,
                   ready: asyncio.Event) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aureond.stress.loadgen", str(out_file),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(float(config["seconds"]) + LOADGEN_SLACK):
            proc.stdin.write(json.dumps(config).encode())
            await proc.stdin.drain()
            proc.stdin.close()
            if await proc.stdout.readline() == b"ready\n":
                ready.set()
            await proc.stdout.read()
            await proc.wait()
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    if proc.returncode != 0 or not ready.is_set():
        raise RuntimeError(f"the load generator exited with {proc.returncode}")
    result: dict[str, Any] = json.loads(
        await asyncio.to_thread(out_file.read_text, encoding="utf-8"))
    return result


async def _run(ctx: RunContext) -> Outcome:
    sizes = ctx.sizes
    clock = AcceleratedClock(1.0)
    served = ServedChain(REGTEST.genesis)
    spacing = spacing_until_now(sizes.api_chain, clock.wall())
    raw, _ = mine_raw(REGTEST.genesis, sizes.api_chain, spacing=spacing,
                      merkle_of=committed_merkle_of)
    served.extend(raw)
    proofs = electrum_proofs(sizes.api_chain)
    if ctx.inject_failure:
        # Every proof's position is off by one: the load starts before the sync, so
        # the first proofs are rightly answered 404 (not synced yet); the later ones
        # must be judged wrong.
        proofs = [{**p, "pos": p["pos"] + 1} for p in proofs]
    peers = [FakePeer(REGTEST, served, Behaviour.HONEST, nonce=i + 1)
             for i in range(sizes.api_peers)]
    try:
        for peer in peers:
            await peer.start()
        activity = RequestActivity(clock)  # as in the daemon: sync gives way to requests
        stack = NodeStack(REGTEST, ctx.work_dir / "api-node",
                          [PeerAddress("127.0.0.1", p.port) for p in peers],
                          SeededRandom(ctx.seed), clock=clock, activity=activity)
        registry = CollectorRegistry()
        metrics = NodeMetrics(registry, version=__version__, network=REGTEST.name)
        app = create_app(StackView(stack), registry, clock,
                         ApiSettings(rate_per_second=1e9, rate_burst=10**9,
                                     monitoring_rate_per_second=1e9,
                                     monitoring_rate_burst=10**9),
                         node_metrics=metrics, activity=activity)
        runner, _ = await start_http(app, "127.0.0.1", 0)
        try:
            port = runner.addresses[0][1]
            config = {"base": f"http://127.0.0.1:{port}", "seconds": sizes.api_seconds,
                      "max_outstanding": 256, "proofs": proofs,
                      "rates": {"health": sizes.health_rate, "metrics": sizes.metrics_rate,
                                "proof": sizes.proof_rate}}
            freeze_heap()  # as the daemon does once it is up (aureond.heap)
            ready = asyncio.Event()
            loading = asyncio.create_task(_loadgen(config, ctx.work_dir / "load.json", ready))
            ready_or_done = asyncio.create_task(ready.wait())
            await asyncio.wait((loading, ready_or_done), return_when=asyncio.FIRST_COMPLETED)
            ready_or_done.cancel()
            if loading.done():
                loading.result()  # the generator failed before it was ready: raise why
            async with stack:
                began = time.monotonic()
                synced = asyncio.create_task(_wait_synced(
                    stack, served.tip_hash, began + sizes.api_seconds + LOADGEN_SLACK))
                load = await loading
                synced_at = await synced
        finally:
            await runner.cleanup()
    finally:
        for peer in peers:
            await peer.close()
    return _outcome(load, stack, began, synced_at, sizes.api_chain, sizes.health_rate)


def _outcome(load: dict[str, Any], stack: NodeStack, began: float, synced_at: float | None,
             chain_length: int, health_rate: float) -> Outcome:
    timeline = _Timeline(stack.recorder.tip_timeline)
    samples: list[list[Any]] = load["samples"]
    failures = 0
    notes: list[str] = []
    for sample in samples:
        why = _judge(sample, timeline)
        if why is not None:
            failures += 1
            if len(notes) < _NOTES:
                notes.append(why)
    sync_end = synced_at if synced_at is not None else float("inf")
    if synced_at is None:
        failures += 1
        notes.append(f"the node did not sync the {chain_length:,} headers during the load")
    health_during = [s[2] for s in samples if s[0] == "health" and s[1] < sync_end]
    health_after = [s[2] for s in samples if s[0] == "health" and s[1] >= sync_end]
    by_kind: dict[str, dict[str, Any]] = {}
    for kind in ("health", "metrics", "proof"):
        mine = [s for s in samples if s[0] == kind]
        lat = summarize_latencies([s[2] for s in mine])
        by_kind[kind] = {"requests": len(mine),
                         "p50_ms": lat.p50_ms if lat else None,
                         "p99_ms": lat.p99_ms if lat else None,
                         "statuses": _statuses(mine)}
    during = summarize_latencies(health_during)
    after = summarize_latencies(health_after)
    sync_seconds = (synced_at - began) if synced_at is not None else None
    checks: tuple[Check, ...] = ()
    if during is not None:
        checks = (Check("/health p99 during sync", during.p99_ms, HEALTH_P99_TARGET_MS,
                        " ms", enforced=False),)
    details = {
        "sync_seconds": sync_seconds,
        "sync_headers_per_s": chain_length / sync_seconds if sync_seconds else None,
        "health_rate_target": health_rate,
        "skipped_starts": load.get("skipped", 0),
        "health_during_sync": None if during is None else {
            "requests": during.count, "p50_ms": during.p50_ms, "p95_ms": during.p95_ms,
            "p99_ms": during.p99_ms, "max_ms": during.max_ms},
        "health_after_sync": None if after is None else {
            "requests": after.count, "p50_ms": after.p50_ms, "p95_ms": after.p95_ms,
            "p99_ms": after.p99_ms, "max_ms": after.max_ms},
        "by_endpoint": by_kind,
    }
    return Outcome(len(samples) + (0 if synced_at is not None else 1), failures,
                   [s[2] for s in samples], latency_unit="HTTP request (all endpoints)",
                   checks=checks, details=details, failure_notes=tuple(notes))


def _statuses(samples: Sequence[Sequence[Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in samples:
        out[str(s[3])] = out.get(str(s[3]), 0) + 1
    return out


def run_api_load(ctx: RunContext) -> Outcome:
    return asyncio.run(_run(ctx))
