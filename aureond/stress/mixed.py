"""``mixed``: a third each of header, merkle and API work, interleaved on one loop.

Operation ``i`` is, by ``i % 3``: a batch of ``HEADER_BATCH`` headers validated and
stored by the node's :class:`~aureond.p2p.headerchain.HeaderChain`; a merkle tree of
``TREE_LEAVES`` txids built and ``PROOFS_PER_TREE`` of its branches verified; or one
HTTP request to the node's API on loopback (alternately ``GET /health`` and ``POST
/v1/proofs/verify`` for a committed block the chain already holds). The three share
the process, the event loop and the chain, as they do in the daemon.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry

from aureond import __version__
from aureond.api import ApiSettings, create_app, start_http
from aureond.chain.header import HEADER_SIZE
from aureond.chain.merkle import MerkleTree, verify_branch
from aureond.chain.params import REGTEST
from aureond.clock import SeededRandom
from aureond.errors import AureonError
from aureond.monitoring.prometheus import NodeMetrics
from aureond.stress.chaingen import mine_raw
from aureond.stress.commit import COMMIT_EVERY, committed_merkle_of, electrum_proof
from aureond.stress.context import FAR_FUTURE, RunContext
from aureond.stress.measure import Progress
from aureond.stress.merkle import synthetic_txids
from aureond.stress.nodestack import AcceleratedClock, NodeStack, StackView
from aureond.stress.report import Outcome

__all__ = ["run_mixed"]

HEADER_BATCH = 200
TREE_LEAVES = 256
PROOFS_PER_TREE = 8
_NOTES = 5


class _Mixed:
    def __init__(self, ctx: RunContext, stack: NodeStack, session: aiohttp.ClientSession,
                 base: str) -> None:
        self._ctx = ctx
        self._stack = stack
        self._session = session
        self._base = base
        self._last_raw = REGTEST.genesis.serialize()
        self.height = 0
        self._requests = 0
        self.failures = 0
        self.notes: list[str] = []
        self.latencies: list[float] = []
        self.kind_seconds = {"header": 0.0, "merkle": 0.0, "api": 0.0}

    def fail(self, note: str) -> None:
        self.failures += 1
        if len(self.notes) < _NOTES:
            self.notes.append(note)

    def _headers(self) -> None:
        raw, _ = mine_raw(self._last_raw, HEADER_BATCH, start_height=self.height + 1,
                          merkle_of=committed_merkle_of)
        start = time.perf_counter()
        try:
            self._stack.chain.add(raw, FAR_FUTURE)
        except AureonError as exc:
            self.fail(f"headers above {self.height}: {exc}")
        self._record("header", start)
        self._last_raw = raw[-HEADER_SIZE:]
        self.height += HEADER_BATCH

    def _merkle(self, i: int) -> None:
        start = time.perf_counter()
        txids = synthetic_txids(TREE_LEAVES, i)
        tree = MerkleTree.from_leaves(txids)
        step = TREE_LEAVES // PROOFS_PER_TREE
        try:
            for pos in range(i % step, TREE_LEAVES, step):
                branch = tree.branch(pos)
                if self._ctx.inject_failure and i == 1 and pos == i % step:
                    branch = tuple(reversed(branch))
                verify_branch(txids[pos], branch, pos, tree.root, TREE_LEAVES)
        except AureonError as exc:
            self.fail(f"merkle tree {i}: {exc}")
        self._record("merkle", start)

    async def _api(self) -> None:
        self._requests += 1
        tip = self._stack.chain.tip_height
        start = time.perf_counter()
        try:
            if self._requests % 2 or tip < COMMIT_EVERY:
                async with self._session.get(f"{self._base}/health") as resp:
                    await resp.read()
                    if resp.status not in (200, 503):
                        self.fail(f"/health answered {resp.status}")
            else:
                height = tip - tip % COMMIT_EVERY
                proof: dict[str, Any] = electrum_proof(height)
                async with self._session.post(f"{self._base}/v1/proofs/verify",
                                              json=proof) as resp:
                    body = await resp.json(content_type=None)
                    if resp.status != 200 or body.get("valid") is not True:
                        self.fail(f"proof at {height} answered {resp.status}: {body}")
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            self.fail(f"request failed: {exc!r}")
        self._record("api", start)

    def _record(self, kind: str, start: float) -> None:
        elapsed = time.perf_counter() - start
        self.latencies.append(elapsed)
        self.kind_seconds[kind] += elapsed

    async def run(self, ops: int, progress: Progress) -> None:
        for i in range(ops):
            if i % 3 == 0:
                self._headers()
            elif i % 3 == 1:
                self._merkle(i)
            else:
                await self._api()
            progress.advance()


async def _run(ctx: RunContext) -> Outcome:
    ops = ctx.sizes.mixed_ops
    clock = AcceleratedClock(1.0)
    stack = NodeStack(REGTEST, ctx.work_dir / "mixed-node", [], SeededRandom(ctx.seed),
                      clock=clock)
    try:
        registry = CollectorRegistry()
        app = create_app(StackView(stack), registry, clock,
                         ApiSettings(rate_per_second=1e9, rate_burst=10**9,
                                     monitoring_rate_per_second=1e9,
                                     monitoring_rate_burst=10**9),
                         node_metrics=NodeMetrics(registry, version=__version__,
                                                  network=REGTEST.name))
        runner, _ = await start_http(app, "127.0.0.1", 0)
        progress = Progress(ctx.progress, "mixed", ops)
        try:
            base = f"http://127.0.0.1:{runner.addresses[0][1]}"
            async with aiohttp.ClientSession() as session:
                mixed = _Mixed(ctx, stack, session, base)
                await mixed.run(ops, progress)
        finally:
            progress.close()
            await runner.cleanup()
        if stack.chain.tip_height != mixed.height and not mixed.failures:
            mixed.fail(f"the chain ended at {stack.chain.tip_height}, not {mixed.height}")
    finally:
        await stack.stop()
    return Outcome(ops, mixed.failures, mixed.latencies,
                   latency_unit="one operation (header batch, merkle tree, or request)",
                   details={"seconds_by_kind": mixed.kind_seconds,
                            "headers_stored": stack.chain.tip_height},
                   failure_notes=tuple(mixed.notes))


def run_mixed(ctx: RunContext) -> Outcome:
    return asyncio.run(_run(ctx))
