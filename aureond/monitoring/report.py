"""The readable status report behind ``aureond status`` and its JSON form.

:func:`build_status_report` gathers a health evaluation, per-operation latency, error
counts and throughput into one frozen :class:`StatusReport`. :meth:`StatusReport.to_dict`
is the JSON form (``aureond status --json``, ``GET /v1/status``); :meth:`StatusReport.from_dict`
reads it back, so the CLI can fetch the JSON from a running node and render the same
text with :func:`render_text`. Check times travel as ISO 8601 at second precision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aureond.monitoring._decode import get_float, get_list, get_map, get_str
from aureond.monitoring.error_rate import ErrorRateSnapshot, ErrorRateTracker
from aureond.monitoring.health import HealthDashboard, HealthReport, HealthStatus, iso8601
from aureond.monitoring.latency import LatencySnapshot, LatencyTracker
from aureond.monitoring.throughput import ThroughputSnapshot, ThroughputTracker

__all__ = ["StatusReport", "build_status_report", "render_text"]


@dataclass(frozen=True, slots=True)
class StatusReport:
    """One consistent picture of the node for people and scripts."""

    service: str
    generated_wall: float
    health: HealthReport
    latency: tuple[LatencySnapshot, ...]
    errors: ErrorRateSnapshot
    throughput: tuple[ThroughputSnapshot, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "generated_at": self.generated_wall,
            "status": self.health.status.value,
            "health": self.health.to_health_json(),
            "latency": [snap.to_dict() for snap in self.latency],
            "errors": self.errors.to_dict(),
            "throughput": [snap.to_dict() for snap in self.throughput],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StatusReport:
        """Inverse of :meth:`to_dict`; ``ReportFormatError`` names a bad field."""
        return cls(
            service=get_str(data, "service"),
            generated_wall=get_float(data, "generated_at"),
            health=HealthReport.from_health_json(get_map(data, "health")),
            latency=tuple(LatencySnapshot.from_dict(item) for item in get_list(data, "latency")),
            errors=ErrorRateSnapshot.from_dict(get_map(data, "errors")),
            throughput=tuple(ThroughputSnapshot.from_dict(item)
                             for item in get_list(data, "throughput")),
        )


def build_status_report(dashboard: HealthDashboard, latency: LatencyTracker,
                        errors: ErrorRateTracker, throughput: Iterable[ThroughputTracker], *,
                        service: str, now_wall: float) -> StatusReport:
    """Evaluate the dashboard and snapshot every tracker, stamped ``now_wall``."""
    return StatusReport(service=service, generated_wall=now_wall,
                        health=dashboard.evaluate(), latency=latency.snapshots(),
                        errors=errors.snapshot(),
                        throughput=tuple(tracker.snapshot() for tracker in throughput))


def _value(value: object, unit: str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, float):
        text = f"{value:.2%}" if unit == "ratio" else f"{value:.4g}"
    else:
        text = str(value)
    return text if unit in (None, "ratio", "boolean") else f"{text} {unit}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]],
           align: str) -> list[str]:
    """Columns padded to width; ``align`` has one ``l`` or ``r`` per column."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        cells = [cell.ljust(width) if side == "l" else cell.rjust(width)
                 for cell, width, side in zip(row, widths, align, strict=True)]
        return "  " + "  ".join(cells)

    return [line(header), *(line(row) for row in rows)]


def render_text(report: StatusReport) -> str:
    """A multi-line report for a terminal (no colour, fits 100 columns)."""
    status = report.health.status
    lines = [
        f"{report.service} {report.health.version}: {status.label} ({status.value})",
        f"as of {iso8601(report.generated_wall)}",
        "",
        "Components",
    ]
    component_rows = []
    for result in report.health.results:
        check = result.check
        note = check.output if check.status is not HealthStatus.HEALTHY else ""
        component_rows.append((result.key, check.status.label,
                               _value(check.observed_value, check.observed_unit), note))
    if component_rows:
        lines += _table(("check", "status", "value", "note"), component_rows, "llrl")
    else:
        lines.append("  (no checks registered)")

    lines += ["", "Latency (ms, recent window)"]
    if report.latency:
        lines += _table(("operation", "avg", "p50", "p95", "p99", "max", "count"),
                        [(s.operation, _ms(s.average), _ms(s.p50), _ms(s.p95), _ms(s.p99),
                          _ms(s.maximum), str(s.count)) for s in report.latency],
                        "lrrrrrr")
    else:
        lines.append("  (no samples)")

    err = report.errors
    window = err.window
    lines += [
        "",
        "Errors",
        f"  window {window.window_seconds:g} s: {window.errors} of {window.total} "
        f"({window.error_rate:.2%})",
        f"  total: {err.errors} of {err.total} ({err.error_rate:.2%}), "
        f"success rate {err.success_rate:.2%}",
    ]
    if err.last_error_wall is not None:
        lines.append(f"  last error: {iso8601(err.last_error_wall)}")
    for name, count in err.by_type:
        lines.append(f"  {name}: {count}")

    lines += ["", "Throughput (ops/s)"]
    if report.throughput:
        lines += _table(("stream", "window", "overall", "total"),
                        [(t.name, f"{t.window_per_second:.2f}", f"{t.overall_per_second:.2f}",
                          str(t.total)) for t in report.throughput], "lrrr")
    else:
        lines.append("  (none)")
    return "\n".join(line.rstrip() for line in lines) + "\n"
