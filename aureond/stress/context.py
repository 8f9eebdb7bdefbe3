"""What every scenario is given: sizes, scratch space, data, and where to draw progress."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from aureond.stress.scale import Sizes

__all__ = ["FAR_FUTURE", "RunContext"]

FAR_FUTURE = 4_000_000_000
"""The ``now`` synthetic chains are validated against: after any header they hold."""


@dataclass(frozen=True, slots=True)
class RunContext:
    sizes: Sizes
    work_dir: Path
    """A scratch directory the scenario may fill; removed after the run."""
    data_dir: Path | None
    """The real chain data (header runs, blocks, proofs), when available."""
    progress: TextIO | None
    """Where progress bars go (drawn only if it is a terminal)."""
    seed: int = 1
    inject_failure: bool = False
    """Corrupt one input that is not an announced fault, to prove the bars bite."""
