"""State compression at scale, by hand: the stress scenario ``state-compression`` with
sizes of your choosing (see :mod:`aureond.stress.state` for what it does and checks).

Prints the scenario's figures (snapshot, verify and restore times, raw against
compressed size, proof rates), its peak RSS and success rate as a Markdown table;
exits 1 when an operation failed.

    .venv/bin/python -m bench.bench_state [--accounts N] [--snapshots N] [--restores N]
        [--proofs N] [--json FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any

from aureond.stress.context import RunContext
from aureond.stress.runner import run_one
from aureond.stress.scale import SCALES
from bench.common import data_dir, markdown_table

__all__ = ["main", "run"]


def run(accounts: int, snapshots: int, restores: int = 3, proofs: int = 10_000,
        seed: int = 1) -> dict[str, Any]:
    sizes = dataclasses.replace(SCALES["full"], state_accounts=accounts,
                                state_snapshots=snapshots, state_restores=restores,
                                state_proofs=proofs)
    with tempfile.TemporaryDirectory() as tmp:
        ctx = RunContext(sizes, Path(tmp), data_dir(), None, seed)
        report = run_one("state-compression", ctx, trace=False)
    figures = {k: round(v, 4) if isinstance(v, float) else v
               for k, v in report.outcome.details.items()}
    return {"scenario": report.name, **figures,
            "seconds": round(report.seconds, 3), "peak_rss_mb": round(report.peak_rss_mb, 1),
            "success_rate": report.success_rate,
            "failure_notes": list(report.outcome.failure_notes)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--snapshots", type=int, default=100)
    parser.add_argument("--restores", type=int, default=3)
    parser.add_argument("--proofs", type=int, default=10_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = run(args.accounts, args.snapshots, args.restores, args.proofs)
    print(markdown_table(["metric", "value"], list(result.items())))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["success_rate"] == 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
