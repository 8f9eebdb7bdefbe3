"""Typed reads from decoded JSON, for the ``from_dict`` constructors of report values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aureond.errors import AureonError

__all__ = ["ReportFormatError", "get_float", "get_int", "get_list", "get_map",
           "get_opt_float", "get_str"]


class ReportFormatError(AureonError, ValueError):
    """A status or health document does not have the expected shape; names the field."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"status document field {field!r}: {reason}")


def _get(data: Mapping[str, Any], key: str) -> object:
    if not isinstance(data, Mapping):
        raise ReportFormatError(key, f"expected an object around it, got {type(data).__name__}")
    if key not in data:
        raise ReportFormatError(key, "missing")
    value: object = data[key]
    return value


def get_str(data: Mapping[str, Any], key: str) -> str:
    value = _get(data, key)
    if not isinstance(value, str):
        raise ReportFormatError(key, f"expected a string, got {type(value).__name__}")
    return value


def get_int(data: Mapping[str, Any], key: str) -> int:
    value = _get(data, key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReportFormatError(key, f"expected an integer, got {type(value).__name__}")
    return value


def get_float(data: Mapping[str, Any], key: str) -> float:
    value = _get(data, key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ReportFormatError(key, f"expected a number, got {type(value).__name__}")
    return float(value)


def get_opt_float(data: Mapping[str, Any], key: str) -> float | None:
    if isinstance(data, Mapping) and data.get(key) is None:
        return None
    return get_float(data, key)


def get_list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = _get(data, key)
    if not isinstance(value, list):
        raise ReportFormatError(key, f"expected a list, got {type(value).__name__}")
    return value


def get_map(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = _get(data, key)
    if not isinstance(value, dict):
        raise ReportFormatError(key, f"expected an object, got {type(value).__name__}")
    return value
