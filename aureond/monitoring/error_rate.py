"""Success and error counts: since start and over a sliding time window.

Lifetime totals answer "how has this node done"; the windowed counts (clock-driven
buckets, see :mod:`aureond.monitoring.window`) answer "how is it doing now", and
health is computed from them.

Rates are ``errors / (successes + errors)``; with no samples both rates are 0.0 (there
is nothing to be wrong about yet). Error types are short tags; the first
``max_error_types`` distinct tags are counted by name and later ones under ``"other"``,
so the breakdown stays bounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aureond.clock import Clock
from aureond.errors import ConfigError
from aureond.monitoring._decode import (
    get_float,
    get_int,
    get_list,
    get_map,
    get_opt_float,
    get_str,
)
from aureond.monitoring.window import BucketedCounter

__all__ = [
    "DEFAULT_MAX_ERROR_TYPES",
    "OTHER_ERROR_TYPE",
    "ErrorRateSnapshot",
    "ErrorRateTracker",
    "WindowCounts",
]

DEFAULT_MAX_ERROR_TYPES = 32
OTHER_ERROR_TYPE = "other"

_SUCCESS = 0
_ERROR = 1


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """Successes and errors in the sliding window."""

    successes: int
    errors: int
    window_seconds: float

    @property
    def total(self) -> int:
        return self.successes + self.errors

    @property
    def error_rate(self) -> float:
        return _ratio(self.errors, self.total)

    @property
    def success_rate(self) -> float:
        return _ratio(self.successes, self.total)


@dataclass(frozen=True, slots=True)
class ErrorRateSnapshot:
    """Everything :class:`ErrorRateTracker` knows, at one moment."""

    successes: int
    errors: int
    by_type: tuple[tuple[str, int], ...]   # most common first, ties by name
    last_error_wall: float | None          # Unix time of the last error
    window: WindowCounts

    @property
    def total(self) -> int:
        return self.successes + self.errors

    @property
    def error_rate(self) -> float:
        return _ratio(self.errors, self.total)

    @property
    def success_rate(self) -> float:
        return _ratio(self.successes, self.total)

    @property
    def most_common_type(self) -> str | None:
        return self.by_type[0][0] if self.by_type else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "successes": self.successes,
            "errors": self.errors,
            "total": self.total,
            "error_rate": self.error_rate,
            "success_rate": self.success_rate,
            "by_type": [{"type": name, "count": count} for name, count in self.by_type],
            "most_common_type": self.most_common_type,
            "last_error_time": self.last_error_wall,
            "window": {
                "seconds": self.window.window_seconds,
                "successes": self.window.successes,
                "errors": self.window.errors,
                "error_rate": self.window.error_rate,
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ErrorRateSnapshot:
        """Inverse of :meth:`to_dict`; ``ReportFormatError`` names a bad field."""
        window = get_map(data, "window")
        by_type = []
        for item in get_list(data, "by_type"):
            by_type.append((get_str(item, "type"), get_int(item, "count")))
        return cls(
            successes=get_int(data, "successes"),
            errors=get_int(data, "errors"),
            by_type=tuple(by_type),
            last_error_wall=get_opt_float(data, "last_error_time"),
            window=WindowCounts(successes=get_int(window, "successes"),
                                errors=get_int(window, "errors"),
                                window_seconds=get_float(window, "seconds")),
        )


class ErrorRateTracker:
    """Counts successes and typed errors, lifetime and over a sliding window."""

    def __init__(self, clock: Clock, *, window_seconds: float = 60.0,
                 bucket_seconds: float = 1.0,
                 max_error_types: int = DEFAULT_MAX_ERROR_TYPES) -> None:
        if max_error_types < 1:
            raise ConfigError("max_error_types", f"must be at least 1, got {max_error_types}")
        self._clock = clock
        self._max_error_types = max_error_types
        self._window = BucketedCounter(clock, fields=2, window_seconds=window_seconds,
                                       bucket_seconds=bucket_seconds)
        self._successes = 0
        self._errors = 0
        self._by_type: dict[str, int] = {}
        self._last_error_wall: float | None = None

    def record_success(self) -> None:
        self._successes += 1
        self._window.add(_SUCCESS)

    def record_error(self, error_type: str) -> None:
        """Count one error of ``error_type`` (a short tag such as ``"timeout"``)."""
        if not error_type:
            raise ValueError("error_type must be a non-empty tag")
        if error_type not in self._by_type:
            named = len(self._by_type) - (OTHER_ERROR_TYPE in self._by_type)
            if error_type != OTHER_ERROR_TYPE and named >= self._max_error_types:
                error_type = OTHER_ERROR_TYPE
        self._by_type[error_type] = self._by_type.get(error_type, 0) + 1
        self._errors += 1
        self._last_error_wall = self._clock.wall()
        self._window.add(_ERROR)

    @property
    def successes(self) -> int:
        return self._successes

    @property
    def errors(self) -> int:
        return self._errors

    @property
    def total(self) -> int:
        return self._successes + self._errors

    @property
    def error_rate(self) -> float:
        """Lifetime error rate in [0, 1]; 0.0 with no samples."""
        return _ratio(self._errors, self.total)

    @property
    def success_rate(self) -> float:
        """Lifetime success rate in [0, 1]; 0.0 with no samples."""
        return _ratio(self._successes, self.total)

    @property
    def last_error_wall(self) -> float | None:
        return self._last_error_wall

    def breakdown(self) -> tuple[tuple[str, int], ...]:
        """``(error_type, count)`` pairs, most common first, ties by name."""
        return tuple(sorted(self._by_type.items(), key=lambda item: (-item[1], item[0])))

    @property
    def most_common_type(self) -> str | None:
        pairs = self.breakdown()
        return pairs[0][0] if pairs else None

    def window(self) -> WindowCounts:
        """Successes and errors in the live window."""
        successes, errors = self._window.totals()
        return WindowCounts(successes=successes, errors=errors,
                            window_seconds=self._window.window_seconds)

    def snapshot(self) -> ErrorRateSnapshot:
        return ErrorRateSnapshot(successes=self._successes, errors=self._errors,
                                 by_type=self.breakdown(),
                                 last_error_wall=self._last_error_wall,
                                 window=self.window())

    def reset(self) -> None:
        """Forget every count, lifetime and windowed."""
        self._successes = 0
        self._errors = 0
        self._by_type.clear()
        self._last_error_wall = None
        self._window.clear()
