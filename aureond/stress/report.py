"""What a scenario reports, the bars it is judged by, and the table and JSON forms.

A scenario returns an :class:`Outcome`: how many operations it attempted, how many
failed, the latencies it sampled, the faults it injected on purpose and how many of
those the node was seen to handle, and any scenario-specific checks (memory bars).
The runner adds the timing and memory it measured around the run and turns it into a
:class:`ScenarioReport`, whose ``passed`` decides the exit code:

* the success rate is 100 % (every operation without an injected fault succeeded);
* every injected fault is accounted for;
* every scenario-specific :class:`Check` holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aureond.stress.measure import LatencySummary

__all__ = ["Check", "Outcome", "ScenarioReport", "render_table", "reports_to_json"]


@dataclass(frozen=True, slots=True)
class Check:
    """A bar: ``observed`` must be at most ``limit`` (or at least, with ``at_least``)."""

    name: str
    observed: float
    limit: float
    unit: str = ""
    at_least: bool = False
    enforced: bool = True
    """False for a target that is reported but does not fail the run."""

    @property
    def passed(self) -> bool:
        return self.observed >= self.limit if self.at_least else self.observed <= self.limit

    def describe(self) -> str:
        op = ">=" if self.at_least else "<="
        verdict = "ok" if self.passed else ("FAILED" if self.enforced else "missed")
        return (f"{self.name}: {self.observed:,.3f}{self.unit} (bar {op} "
                f"{self.limit:,.3f}{self.unit}) {verdict}")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "observed": self.observed, "limit": self.limit,
                "unit": self.unit, "at_least": self.at_least, "passed": self.passed,
                "enforced": self.enforced}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one run of a scenario did (timing and memory are measured around it)."""

    operations: int
    failures: int
    latencies: Sequence[float] = ()
    """Seconds per sampled operation (a batch, a proof, a request)."""
    latency_unit: str = ""
    """What one latency sample is (``"batch of 2000 headers"``, ``"request"``)."""
    faults_injected: int = 0
    faults_accounted: int = 0
    checks: tuple[Check, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    failure_notes: tuple[str, ...] = ()
    """Why operations failed, a few examples (bounded by the scenario)."""
    busy_seconds: float | None = None
    """Time spent in the measured work alone (without setup such as mining), if known;
    ops/s is computed from it when given."""
    summary: tuple[str, ...] = ()
    """A few lines of the scenario's own figures for the table (``details`` has them
    all, for the JSON)."""


@dataclass(frozen=True, slots=True)
class ScenarioReport:
    name: str
    outcome: Outcome
    seconds: float
    rss_start_mb: float
    rss_end_mb: float
    peak_rss_mb: float
    tracemalloc_peak_mb: float | None
    tracemalloc_operations: int | None
    latency: LatencySummary | None

    @property
    def success_rate(self) -> float:
        o = self.outcome
        if o.operations <= 0:
            return 0.0
        return (o.operations - o.failures) / o.operations

    @property
    def ops_per_second(self) -> float:
        busy = self.outcome.busy_seconds
        seconds = busy if busy is not None else self.seconds
        return self.outcome.operations / seconds if seconds > 0 else 0.0

    @property
    def faults_ok(self) -> bool:
        return self.outcome.faults_accounted >= self.outcome.faults_injected

    @property
    def problems(self) -> list[str]:
        out: list[str] = []
        o = self.outcome
        if o.operations <= 0:
            out.append("no operations were run")
        elif o.failures:
            out.append(f"success rate {self.success_rate:.4%}: {o.failures:,} of "
                       f"{o.operations:,} operations failed")
        if not self.faults_ok:
            out.append(f"{o.faults_injected - o.faults_accounted} of {o.faults_injected} "
                       "injected faults were not accounted for")
        out += [c.describe() for c in o.checks if c.enforced and not c.passed]
        return out

    @property
    def passed(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        o = self.outcome
        lat = self.latency
        return {
            "scenario": self.name,
            "passed": self.passed,
            "problems": self.problems,
            "operations": o.operations,
            "failures": o.failures,
            "success_rate": self.success_rate,
            "duration_s": self.seconds,
            "busy_s": o.busy_seconds,
            "ops_per_s": self.ops_per_second,
            "memory": {"rss_start_mb": self.rss_start_mb, "rss_end_mb": self.rss_end_mb,
                       "peak_rss_mb": self.peak_rss_mb,
                       "tracemalloc_peak_mb": self.tracemalloc_peak_mb,
                       "tracemalloc_operations": self.tracemalloc_operations},
            "latency": None if lat is None else {
                "unit": o.latency_unit, "count": lat.count, "p50_ms": lat.p50_ms,
                "p95_ms": lat.p95_ms, "p99_ms": lat.p99_ms, "max_ms": lat.max_ms},
            "faults": {"injected": o.faults_injected, "accounted": o.faults_accounted},
            "checks": [c.to_json() for c in o.checks],
            "failure_notes": list(o.failure_notes),
            "details": dict(o.details),
        }


def reports_to_json(reports: Sequence[ScenarioReport], *, scale: str,
                    machine: Mapping[str, Any]) -> dict[str, Any]:
    return {"scale": scale, "passed": all(r.passed for r in reports), "machine": dict(machine),
            "scenarios": [r.to_json() for r in reports]}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def render_table(reports: Sequence[ScenarioReport]) -> str:
    """A fixed-width table, one row per scenario, then the failed bars."""
    header = ("scenario", "ops", "seconds", "ops/s", "peak RSS MB", "tracemalloc MB",
              "success", "p50 ms", "p95 ms", "p99 ms", "faults", "result")
    rows: list[tuple[str, ...]] = [header]
    for r in reports:
        lat = r.latency
        o = r.outcome
        tm = "-" if r.tracemalloc_peak_mb is None else f"{r.tracemalloc_peak_mb:.1f}"
        rows.append((r.name, f"{o.operations:,}", f"{r.seconds:.2f}",
                     f"{r.ops_per_second:,.0f}", f"{r.peak_rss_mb:.1f}", tm,
                     f"{r.success_rate:.2%}", _ms(lat.p50_ms if lat else None),
                     _ms(lat.p95_ms if lat else None), _ms(lat.p99_ms if lat else None),
                     f"{o.faults_accounted}/{o.faults_injected}",
                     "pass" if r.passed else "FAIL"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(w) if i else cell.ljust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for r in reports:
        for c in r.outcome.checks:
            lines.append(f"  {r.name}: {c.describe()}")
        lines += [f"  {r.name}: {s}" for s in r.outcome.summary]
        lines += [f"  {r.name}: {p}" for p in r.problems if not p.endswith("FAILED")]
    return "\n".join(lines)
