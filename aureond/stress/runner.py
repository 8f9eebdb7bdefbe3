"""Runs scenarios, measures them, and judges them against their bars.

Each scenario runs twice: once plain, timed, with the process's peak RSS reset
before it (``/proc/self/clear_refs``), and once more at a tenth of its size under
``tracemalloc`` for the Python heap peak (tracemalloc slows allocation-heavy code
several times over, so it never runs during the timed pass). The memory scenario
does both in fresh processes of its own.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import shutil
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from aureond.stress.apiload import run_api_load
from aureond.stress.context import RunContext
from aureond.stress.headers import run_header_chain
from aureond.stress.measure import collect_garbage, read_memory, reset_peak_rss, summarize_latencies
from aureond.stress.memory import run_memory, traced_peak
from aureond.stress.merkle import run_merkle_tree
from aureond.stress.mixed import run_mixed
from aureond.stress.peers import run_concurrent_peers
from aureond.stress.report import Outcome, ScenarioReport
from aureond.stress.scale import SCALES
from aureond.stress.state import run_state_compression

__all__ = ["SCENARIOS", "TRACE_FRACTION", "machine_info", "run_scenarios"]

Scenario = Callable[[RunContext], Outcome]

SCENARIOS: dict[str, Scenario] = {
    "header-chain": run_header_chain,
    "merkle-tree": run_merkle_tree,
    "concurrent-peers": run_concurrent_peers,
    "api-load": run_api_load,
    "mixed": run_mixed,
    "memory": run_memory,
    "state-compression": run_state_compression,
}
TRACE_FRACTION = 0.1


def machine_info() -> dict[str, Any]:
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()}


def _traced(name: str, scenario: Scenario, ctx: RunContext) -> tuple[float | None, int | None]:
    fresh = ctx.work_dir / "traced"
    fresh.mkdir()
    small = dataclasses.replace(ctx, sizes=ctx.sizes.scaled(TRACE_FRACTION), work_dir=fresh,
                                progress=None, inject_failure=False)
    if name == "memory":
        return traced_peak(small), small.sizes.memory_headers
    tracemalloc.start()
    try:
        outcome = scenario(small)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    return peak, outcome.operations


def run_one(name: str, ctx: RunContext, *, trace: bool = True) -> ScenarioReport:
    scenario = SCENARIOS[name]
    collect_garbage()
    reset_peak_rss()
    start_mem = read_memory()
    started = time.perf_counter()
    outcome = scenario(ctx)
    seconds = time.perf_counter() - started
    end_mem = read_memory()
    peak, traced_ops = _traced(name, scenario, ctx) if trace else (None, None)
    return ScenarioReport(name, outcome, seconds, start_mem.rss_mb, end_mem.rss_mb,
                          end_mem.peak_rss_mb, peak, traced_ops,
                          summarize_latencies(outcome.latencies))


def run_scenarios(names: Sequence[str], scale: str, *, data_dir: Path | None,
                  progress: TextIO | None, inject_failure: Sequence[str] = (),
                  trace: bool = True, seed: int = 1) -> list[ScenarioReport]:
    """Run ``names`` in order at ``scale``; every scratch file is removed afterwards."""
    sizes = SCALES[scale]
    reports = []
    work = Path(tempfile.mkdtemp(prefix="aureond-stress-"))
    try:
        for name in names:
            scratch = work / name
            scratch.mkdir()
            ctx = RunContext(sizes, scratch, data_dir, progress, seed,
                             inject_failure=name in inject_failure)
            reports.append(run_one(name, ctx, trace=trace))
            shutil.rmtree(scratch, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return reports
