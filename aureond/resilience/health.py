"""Component health from consecutive outcomes, and a registry where the worst wins.

A :class:`HealthChecker` is fed ``record_success()`` / ``record_failure()`` by the
component it watches. With the default thresholds:

* ``degraded_after`` consecutive failures (default 1) make it DEGRADED;
* ``unhealthy_after`` consecutive failures (default 3) make it UNHEALTHY;
* recovery steps down: once failures stop, the component stays DEGRADED until
  ``recovery_successes`` consecutive successes (default 1) have been seen, then it is
  HEALTHY again. With the default of 1, one success resets it to HEALTHY; a larger value
  keeps a flapping component visibly DEGRADED instead of bouncing.

The mapping to the HTTP health document is Healthy = pass, Degraded = warn,
Unhealthy = fail.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from aureond.clock import Clock
from aureond.errors import ConfigError

__all__ = ["ComponentHealth", "HealthChange", "HealthChecker", "HealthRegistry",
           "HealthStatus", "HealthThresholds"]


class HealthStatus(enum.Enum):
    """Health of one component or of the whole node, best to worst."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"

    @property
    def severity(self) -> int:
        """0 for HEALTHY, 1 for DEGRADED, 2 for UNHEALTHY (for "worst wins")."""
        return _SEVERITY[self]


_SEVERITY = {HealthStatus.HEALTHY: 0, HealthStatus.DEGRADED: 1, HealthStatus.UNHEALTHY: 2}


@dataclass(frozen=True, slots=True)
class HealthThresholds:
    """When consecutive outcomes change a component's status."""

    degraded_after: int = 1
    unhealthy_after: int = 3
    recovery_successes: int = 1

    def __post_init__(self) -> None:
        if self.degraded_after < 1:
            raise ConfigError("degraded_after", "must be at least 1")
        if self.unhealthy_after < self.degraded_after:
            raise ConfigError("unhealthy_after", "must be >= degraded_after")
        if self.recovery_successes < 1:
            raise ConfigError("recovery_successes", "must be at least 1")


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    """A snapshot of one component's health."""

    name: str
    status: HealthStatus
    consecutive_failures: int
    consecutive_successes: int
    last_error: str | None
    since: float
    """Monotonic time the current status began."""


@dataclass(frozen=True, slots=True)
class HealthChange:
    """A component's status changed at monotonic time ``at``."""

    component: str
    from_status: HealthStatus
    to_status: HealthStatus
    at: float


HealthListener = Callable[[HealthChange], None]


class HealthChecker:
    """Tracks one component's health from its outcomes; see the module docstring."""

    __slots__ = ("_clock", "_failures", "_last_error", "_listeners", "_since", "_status",
                 "_successes", "_thresholds", "name")

    def __init__(self, name: str, clock: Clock,
                 thresholds: HealthThresholds | None = None) -> None:
        self.name = name
        self._clock = clock
        self._thresholds = thresholds if thresholds is not None else HealthThresholds()
        self._status = HealthStatus.HEALTHY
        self._failures = 0
        self._successes = 0
        self._last_error: str | None = None
        self._since = clock.monotonic()
        self._listeners: list[HealthListener] = []

    @property
    def status(self) -> HealthStatus:
        """The current status."""
        return self._status

    def on_change(self, listener: HealthListener) -> Callable[[], None]:
        """Call ``listener`` on each status change; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def record_success(self) -> HealthStatus:
        """One successful check or operation; returns the new status."""
        self._failures = 0
        self._successes += 1
        if (self._status is not HealthStatus.HEALTHY
                and self._successes >= self._thresholds.recovery_successes):
            self._set(HealthStatus.HEALTHY)
        elif self._status is HealthStatus.UNHEALTHY:
            self._set(HealthStatus.DEGRADED)
        return self._status

    def record_failure(self, error: BaseException | str | None = None) -> HealthStatus:
        """One failed check or operation (with what went wrong); returns the new status."""
        self._successes = 0
        self._failures += 1
        if error is not None:
            self._last_error = error if isinstance(error, str) else (
                f"{type(error).__name__}: {error}")
        limits = self._thresholds
        if self._failures >= limits.unhealthy_after:
            self._set(HealthStatus.UNHEALTHY)
        elif self._failures >= limits.degraded_after and self._status is HealthStatus.HEALTHY:
            self._set(HealthStatus.DEGRADED)
        return self._status

    def snapshot(self) -> ComponentHealth:
        """The current health as a value."""
        return ComponentHealth(self.name, self._status, self._failures, self._successes,
                               self._last_error, self._since)

    def _set(self, status: HealthStatus) -> None:
        if status is self._status:
            return
        before = self._status
        self._status = status
        self._since = now = self._clock.monotonic()
        for listener in self._listeners:
            listener(HealthChange(self.name, before, status, now))


class HealthRegistry:
    """Named component checkers; the overall status is the worst of them."""

    def __init__(self) -> None:
        self._checkers: dict[str, HealthChecker] = {}

    def register(self, checker: HealthChecker) -> HealthChecker:
        """Add ``checker`` under its name; a second one with the same name is an error."""
        if checker.name in self._checkers:
            raise ValueError(f"a health component named {checker.name!r} is already "
                             "registered; give each component its own name")
        self._checkers[checker.name] = checker
        return checker

    def unregister(self, name: str) -> None:
        """Forget the component ``name`` (no error if absent)."""
        self._checkers.pop(name, None)

    def __getitem__(self, name: str) -> HealthChecker:
        return self._checkers[name]

    def __iter__(self) -> Iterator[HealthChecker]:
        return iter(self._checkers.values())

    def __len__(self) -> int:
        return len(self._checkers)

    def overall(self) -> HealthStatus:
        """The worst status among the components (HEALTHY when there are none)."""
        worst = HealthStatus.HEALTHY
        for checker in self._checkers.values():
            if checker.status.severity > worst.severity:
                worst = checker.status
        return worst

    def snapshot(self) -> Mapping[str, ComponentHealth]:
        """Every component's health, by name."""
        return {name: checker.snapshot() for name, checker in self._checkers.items()}
