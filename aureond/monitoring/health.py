"""The health dashboard: component checks, overall status, ``application/health+json``.

Statuses follow the IETF health-check response draft (draft-inadarei-api-health-check):
``Healthy`` is ``pass``, ``Degraded`` is ``warn``, ``Unhealthy`` is ``fail``. A
component check is a provider registered under ``component:measurement`` (the draft's
key form) that returns a :class:`ComponentCheck` (status, observed value and unit,
output); the overall status is the worst component status. A provider that raises is
reported as ``fail`` with the error as its output, so one broken check cannot take the
health endpoint down; cancellation is never caught.

Error-rate thresholds (:class:`ErrorRatePolicy`), applied to the *windowed* rate:

========================  ============  ==========================================
windowed error rate       status        boundary ownership
========================  ============  ==========================================
samples < min_samples     Healthy       too few samples to judge
rate < 5 %                Healthy       5 % itself is not Healthy
5 % <= rate <= 10 %       Degraded      both 5 % and 10 % are Degraded
rate > 10 %               Unhealthy     strictly above 10 %
========================  ============  ==========================================
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aureond.clock import Clock
from aureond.errors import ConfigError
from aureond.monitoring._decode import ReportFormatError, get_map, get_str

__all__ = [
    "DEFAULT_DEGRADED_AT",
    "DEFAULT_MIN_SAMPLES",
    "DEFAULT_UNHEALTHY_ABOVE",
    "HEALTH_MEDIA_TYPE",
    "CheckProvider",
    "CheckResult",
    "ComponentCheck",
    "ErrorRatePolicy",
    "HealthDashboard",
    "HealthReport",
    "HealthStatus",
    "iso8601",
]

HEALTH_MEDIA_TYPE = "application/health+json"
DEFAULT_DEGRADED_AT = 0.05
DEFAULT_UNHEALTHY_ABOVE = 0.10
DEFAULT_MIN_SAMPLES = 20

ObservedValue = int | float | bool | str | None

_ALIASES = {"pass": "pass", "ok": "pass", "up": "pass", "warn": "warn",
            "fail": "fail", "error": "fail", "down": "fail"}


class HealthStatus(enum.Enum):
    """Health of a component or the node; the value is the draft's status string."""

    HEALTHY = "pass"
    DEGRADED = "warn"
    UNHEALTHY = "fail"

    @property
    def severity(self) -> int:
        """0 pass, 1 warn, 2 fail (the value of ``aureond_health_status``)."""
        return _SEVERITY[self]

    @property
    def label(self) -> str:
        return self.name.capitalize()

    @classmethod
    def worst(cls, statuses: Iterable[HealthStatus]) -> HealthStatus:
        """The most severe status; Healthy when there is none."""
        return max(statuses, key=lambda status: status.severity, default=cls.HEALTHY)

    @classmethod
    def parse(cls, value: str) -> HealthStatus:
        """A draft status string, aliases (ok/up, error/down) and any case accepted."""
        canonical = _ALIASES.get(value.lower())
        if canonical is None:
            raise ValueError(f"unknown health status {value!r}; expected pass, warn or fail")
        return cls(canonical)


_SEVERITY = {HealthStatus.HEALTHY: 0, HealthStatus.DEGRADED: 1, HealthStatus.UNHEALTHY: 2}


def iso8601(wall: float) -> str:
    """Unix time as an ISO 8601 UTC timestamp with a ``Z`` suffix (second precision)."""
    stamp = datetime.fromtimestamp(wall, tz=UTC).isoformat(timespec="seconds")
    return stamp.replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class ErrorRatePolicy:
    """Maps a windowed error rate to a status (see the table in the module doc)."""

    degraded_at: float = DEFAULT_DEGRADED_AT
    unhealthy_above: float = DEFAULT_UNHEALTHY_ABOVE
    min_samples: int = DEFAULT_MIN_SAMPLES

    def __post_init__(self) -> None:
        if not (math.isfinite(self.degraded_at) and 0.0 <= self.degraded_at <= 1.0):
            raise ConfigError("degraded_at", f"must be within [0, 1], got {self.degraded_at!r}")
        if not (math.isfinite(self.unhealthy_above)
                and self.degraded_at <= self.unhealthy_above <= 1.0):
            raise ConfigError("unhealthy_above",
                              f"must be within [degraded_at ({self.degraded_at}), 1], "
                              f"got {self.unhealthy_above!r}")
        if self.min_samples < 0:
            raise ConfigError("min_samples", f"must be >= 0, got {self.min_samples}")

    def classify(self, error_rate: float, samples: int) -> HealthStatus:
        """Healthy below ``degraded_at``; Degraded from it up to and including
        ``unhealthy_above``; Unhealthy strictly above; Healthy below ``min_samples``."""
        if samples < self.min_samples:
            return HealthStatus.HEALTHY
        if error_rate > self.unhealthy_above:
            return HealthStatus.UNHEALTHY
        if error_rate >= self.degraded_at:
            return HealthStatus.DEGRADED
        return HealthStatus.HEALTHY


@dataclass(frozen=True, slots=True)
class ComponentCheck:
    """What a component check observed.

    ``output`` explains a warn or fail; the draft omits it for pass, so the output of a
    passing check is not sent (and a report read back from JSON has it empty).
    """

    status: HealthStatus
    observed_value: ObservedValue = None
    observed_unit: str | None = None
    output: str = ""


CheckProvider = Callable[[], ComponentCheck]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One evaluated check, stamped with the (wall) time it was read."""

    component: str
    measurement: str
    component_type: str
    check: ComponentCheck
    time_wall: float

    @property
    def key(self) -> str:
        return f"{self.component}:{self.measurement}"

    def to_health_json(self) -> dict[str, Any]:
        """One "component details" object of the draft's ``checks``."""
        body: dict[str, Any] = {
            "componentType": self.component_type,
            "status": self.check.status.value,
            "time": iso8601(self.time_wall),
        }
        if self.check.observed_value is not None:
            body["observedValue"] = self.check.observed_value
            if self.check.observed_unit is not None:
                body["observedUnit"] = self.check.observed_unit
        if self.check.status is not HealthStatus.HEALTHY and self.check.output:
            body["output"] = self.check.output
        return body


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The result of one evaluation of every registered check."""

    service_id: str
    description: str
    version: str
    time_wall: float
    results: tuple[CheckResult, ...]

    @property
    def status(self) -> HealthStatus:
        return HealthStatus.worst(result.check.status for result in self.results)

    @property
    def http_status(self) -> int:
        """200 for pass and warn, 503 for fail (the draft wants 2xx-3xx / 4xx-5xx)."""
        return 503 if self.status is HealthStatus.UNHEALTHY else 200

    def component_statuses(self) -> dict[str, HealthStatus]:
        """The worst status of each component over its measurements."""
        worst: dict[str, HealthStatus] = {}
        for result in self.results:
            seen = worst.get(result.component, HealthStatus.HEALTHY)
            worst[result.component] = HealthStatus.worst((seen, result.check.status))
        return worst

    def output(self) -> str:
        """``key: output`` of each check that is not passing, joined by ``"; "``."""
        return "; ".join(f"{r.key}: {r.check.output or r.check.status.value}"
                         for r in self.results if r.check.status is not HealthStatus.HEALTHY)

    def to_health_json(self) -> dict[str, Any]:
        """The ``application/health+json`` body."""
        body: dict[str, Any] = {
            "status": self.status.value,
            "version": self.version,
            "serviceId": self.service_id,
            "description": self.description,
            "checks": {result.key: [result.to_health_json()] for result in self.results},
        }
        if self.status is not HealthStatus.HEALTHY:
            body["output"] = self.output()
        return body

    @classmethod
    def from_health_json(cls, data: Mapping[str, Any]) -> HealthReport:
        """Read back a body made by :meth:`to_health_json`.

        ``ReportFormatError`` names a bad field. Times are second-precision, as sent.
        """
        results = []
        for key, entries in get_map(data, "checks").items():
            component, sep, measurement = key.partition(":")
            if not sep or not component or not measurement:
                raise ReportFormatError(f"checks.{key}", "expected 'component:measurement'")
            if not isinstance(entries, list) or len(entries) != 1:
                raise ReportFormatError(f"checks.{key}", "expected a one-element list")
            results.append(_result_from_json(component, measurement, entries[0]))
        return cls(service_id=get_str(data, "serviceId"),
                   description=get_str(data, "description"),
                   version=get_str(data, "version"),
                   time_wall=max((r.time_wall for r in results), default=0.0),
                   results=tuple(results))


def _result_from_json(component: str, measurement: str, entry: object) -> CheckResult:
    where = f"checks.{component}:{measurement}"
    if not isinstance(entry, dict):
        raise ReportFormatError(where, "expected an object")
    try:
        status = HealthStatus.parse(get_str(entry, "status"))
        when = datetime.fromisoformat(get_str(entry, "time")).timestamp()
    except ValueError as exc:
        raise ReportFormatError(where, str(exc)) from exc
    value = entry.get("observedValue")
    if not (value is None or isinstance(value, int | float | bool | str)):
        raise ReportFormatError(f"{where}.observedValue", "expected a scalar")
    unit = entry.get("observedUnit")
    output = entry.get("output", "")
    if not (unit is None or isinstance(unit, str)) or not isinstance(output, str):
        raise ReportFormatError(where, "observedUnit and output must be strings")
    return CheckResult(component=component, measurement=measurement,
                       component_type=get_str(entry, "componentType"),
                       check=ComponentCheck(status=status, observed_value=value,
                                            observed_unit=unit, output=output),
                       time_wall=when)


def _check_name(field: str, name: str) -> None:
    if not name or ":" in name or name != name.strip():
        raise ConfigError(field, f"must be a non-empty name without ':' or spaces "
                                 f"around it, got {name!r}")


@dataclass(frozen=True, slots=True)
class _Registration:
    component: str
    measurement: str
    component_type: str
    provider: CheckProvider


class HealthDashboard:
    """Component checks registered by name, evaluated together into a report."""

    def __init__(self, clock: Clock, *, service_id: str = "aureond",
                 description: str = "aureond SPV light-client daemon",
                 version: str = "0") -> None:
        self._clock = clock
        self._service_id = service_id
        self._description = description
        self._version = version
        self._checks: dict[str, _Registration] = {}

    def register(self, component: str, measurement: str, provider: CheckProvider, *,
                 component_type: str = "component") -> None:
        """Add a check under ``component:measurement``; the key must be new."""
        _check_name("component", component)
        _check_name("measurement", measurement)
        key = f"{component}:{measurement}"
        if key in self._checks:
            raise ConfigError("component", f"a check {key!r} is already registered")
        self._checks[key] = _Registration(component, measurement, component_type, provider)

    def unregister(self, component: str, measurement: str) -> None:
        """Remove a check; removing one that is not there is a no-op."""
        self._checks.pop(f"{component}:{measurement}", None)

    def keys(self) -> tuple[str, ...]:
        return tuple(self._checks)

    def evaluate(self) -> HealthReport:
        """Run every provider and collect the results, in ``component:measurement`` order
        (the order a JSON document with sorted keys gives back)."""
        results = []
        for _, reg in sorted(self._checks.items()):
            try:
                check = reg.provider()
            except Exception as exc:  # a broken check reports fail, never breaks /health
                check = ComponentCheck(HealthStatus.UNHEALTHY,
                                       output=f"check raised {type(exc).__name__}: {exc}")
            results.append(CheckResult(component=reg.component, measurement=reg.measurement,
                                       component_type=reg.component_type, check=check,
                                       time_wall=self._clock.wall()))
        return HealthReport(service_id=self._service_id, description=self._description,
                            version=self._version, time_wall=self._clock.wall(),
                            results=tuple(results))


