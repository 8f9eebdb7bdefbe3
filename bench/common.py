"""Shared benchmark helpers: data location, medians, a Markdown table."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["data_dir", "markdown_table", "median_rate"]


def data_dir() -> Path:
    env = os.environ.get("AUREOND_TEST_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (path / "README.md").is_file():
        raise SystemExit(f"real chain data not found at {path}; set AUREOND_TEST_DATA")
    return path


def median_rate(fn: Callable[[], int], repeats: int = 7) -> tuple[float, list[float]]:
    """Run ``fn`` (which returns an item count) ``repeats`` times; median items/s."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        count = fn()
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates), rates


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
