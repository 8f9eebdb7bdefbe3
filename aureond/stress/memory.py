"""``memory``: how much the node's memory grows per 10,000 headers it holds.

A fresh process (``python -m aureond.stress.memory``, so nothing else the run did is
in its heap) opens a real :class:`~aureond.p2p.headerchain.HeaderChain` on a scratch
store and feeds it a synthetic chain 2,000 headers at a time, mined on the fly so the
chain itself is never held in memory. Every ``every`` headers it collects garbage and
reads its RSS. The growth is the least-squares slope of RSS over headers held, from
``WARMUP_HEADERS`` on (before that the tree's window is still filling up); the bars are
the slope per 10,000 headers and the RSS at the end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aureond.chain.params import REGTEST
from aureond.p2p.headerchain import HeaderChain
from aureond.store.policy import FsyncPolicy
from aureond.stress.chaingen import iter_raw_batches
from aureond.stress.context import FAR_FUTURE, RunContext
from aureond.stress.measure import collect_garbage, read_memory
from aureond.stress.report import Check, Outcome

__all__ = ["GROWTH_BAR_MB", "RSS_BAR_MB", "WARMUP_HEADERS", "probe", "run_memory",
           "slope_per_10k", "traced_peak"]

GROWTH_BAR_MB = 0.5
"""Most RSS growth allowed per 10,000 headers held (MiB)."""
RSS_BAR_MB = 80.0
"""Most RSS allowed after the whole chain is held (MiB); the bar is set for 1,000,000."""
BATCH = 2000
WARMUP_HEADERS = 40_000
"""Headers held before growth is measured: the tree's window and the store's buffers
fill up first (one retarget period plus the reorg depth, and then some)."""
PROBE_TIMEOUT = 900.0
LEAK_FACTOR = 4


def probe(directory: Path, total: int, every: int, trace: bool = False,
          leak: bool = False) -> dict[str, Any]:
    """Runs in the fresh process: returns the samples as a JSON-able mapping.

    ``leak`` keeps 320 bytes alive per header (about 3 MB per 10,000), as a cache that
    is never trimmed would: the failure this scenario exists to catch, on purpose.
    """
    kept: list[bytes] = []
    if trace:
        tracemalloc.start()
    chain = HeaderChain.open(REGTEST, directory,
                             fsync_policy=FsyncPolicy(every_n_headers=BATCH,
                                                      every_seconds=None))
    # As the daemon does once a peer has said how high its chain is: the hash table
    # is sized once, at the first write, rather than rebuilt on the way up.
    chain.expect_height(total, FAR_FUTURE)
    collect_garbage()
    start = read_memory().rss_mb
    samples: list[tuple[int, float]] = [(0, start)]
    try:
        for raw in iter_raw_batches(REGTEST.genesis, total, BATCH):
            before = chain.tip_height
            chain.add(raw, FAR_FUTURE)
            if leak:
                kept.append(raw * LEAK_FACTOR)
            if chain.tip_height // every != before // every:
                collect_garbage()
                samples.append((chain.tip_height, read_memory().rss_mb))
        held = chain.tip_height
    finally:
        chain.close()
    mem = read_memory()
    traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
    return {"held": held, "samples": samples, "rss_start_mb": start,
            "rss_end_mb": samples[-1][1], "peak_rss_mb": mem.peak_rss_mb,
            "tracemalloc_peak_mb": traced}


def slope_per_10k(samples: Sequence[Sequence[float]]) -> float:
    """Least-squares MiB per 10,000 headers over ``samples`` of (headers, MiB).

    Samples below ``WARMUP_HEADERS`` are left out while at least two remain after it.
    """
    points = [p for p in samples if p[0] >= WARMUP_HEADERS]
    if len(points) < 2:
        points = list(samples[-2:])
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    if sxx == 0:
        return 0.0
    sxy = sum((p[0] - mx) * (p[1] - my) for p in points)
    return sxy / sxx * 10_000


def _fresh_probe(work_dir: Path, total: int, every: int, trace: bool,
                 leak: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        cmd = [sys.executable, "-m", "aureond.stress.memory", tmp, str(total), str(every)]
        cmd += ["--trace"] * trace + ["--leak"] * leak
        out = subprocess.run(cmd, check=True, capture_output=True, text=True,  # noqa: S603
                             timeout=PROBE_TIMEOUT)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def run_memory(ctx: RunContext) -> Outcome:
    sizes = ctx.sizes
    got = _fresh_probe(ctx.work_dir, sizes.memory_headers, sizes.memory_sample_every, False,
                       leak=ctx.inject_failure)
    slope = slope_per_10k(got["samples"])
    held = int(got["held"])
    failures = 0 if held == sizes.memory_headers else sizes.memory_headers - held
    checks = (Check("RSS growth per 10,000 headers held", slope, GROWTH_BAR_MB, " MB"),
              Check(f"RSS holding {held:,} headers", float(got["rss_end_mb"]), RSS_BAR_MB,
                    " MB"))
    return Outcome(sizes.memory_headers, failures, checks=checks,
                   details={"samples": got["samples"], "mb_per_10k_headers": slope,
                            "rss_start_mb": got["rss_start_mb"],
                            "rss_end_mb": got["rss_end_mb"],
                            "probe_peak_rss_mb": got["peak_rss_mb"]},
                   failure_notes=() if not failures else
                   (f"the chain held {held:,} headers, not {sizes.memory_headers:,}",))


def traced_peak(ctx: RunContext) -> float | None:
    """tracemalloc peak of a probe at ``ctx``'s sizes (a second fresh process)."""
    sizes = ctx.sizes
    got = _fresh_probe(ctx.work_dir, sizes.memory_headers, sizes.memory_sample_every, True)
    peak = got.get("tracemalloc_peak_mb")
    return float(peak) if peak is not None else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="memory probe (a fresh process)")
    parser.add_argument("directory", type=Path)
    parser.add_argument("total", type=int)
    parser.add_argument("every", type=int)
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--leak", action="store_true")
    args = parser.parse_args(argv)
    sys.stdout.write(json.dumps(probe(args.directory, args.total, args.every, args.trace,
                                      args.leak)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
