"""Helpers shared by subcommands: JSON output and exit codes."""

from __future__ import annotations

import json
import sys
from typing import Any

__all__ = ["EXIT_CONFIG", "EXIT_FATAL", "EXIT_INVALID", "EXIT_MALFORMED", "EXIT_OK",
           "EXIT_STORE", "EXIT_UNREACHABLE", "emit_json", "fail"]

EXIT_OK = 0
EXIT_INVALID = 1     # the input was well formed and is not valid
EXIT_MALFORMED = 2   # the input could not be read or parsed
EXIT_CONFIG = 3      # configuration error
EXIT_STORE = 4       # the store cannot be opened or written
EXIT_FATAL = 5       # unexpected runtime failure
EXIT_UNREACHABLE = 3  # commands that ask a running node: no usable answer from it


def emit_json(obj: Any) -> None:
    """One line of JSON to stdout."""
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def fail(code: int, message: str, **fields: Any) -> int:
    """A JSON error line on stdout plus a readable line on stderr; returns ``code``."""
    emit_json({"ok": False, "error": message, **fields})
    sys.stderr.write(f"aureond: {message}\n")
    return code
