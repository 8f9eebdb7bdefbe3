"""Helpers shared by subcommands: JSON output and exit codes."""

from __future__ import annotations

import json
import sys
from typing import Any

__all__ = ["EXIT_CONFIG", "EXIT_FATAL", "EXIT_INVALID", "EXIT_MALFORMED", "EXIT_OK",
           "EXIT_STORE", "EXIT_UNREACHABLE", "emit_json", "fail", "fail_json"]

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


def _on_terminal() -> bool:
    """Whether a person reads stdout (then stderr is on the same screen, as a rule)."""
    return sys.stdout.isatty()


def fail(code: int, message: str, **fields: Any) -> int:
    """An error, said once; returns ``code``.

    On a terminal: one readable line on stderr. Otherwise the JSON line on stdout for
    the script reading it, and the readable line on stderr for its log.
    """
    if not _on_terminal():
        emit_json({"ok": False, "error": message, **fields})
    sys.stderr.write(f"aureond: {message}\n")
    return code


def fail_json(code: int, message: str, **fields: Any) -> int:
    """An error of a command whose output is one JSON line (the offline checks,
    ``--json``): that line always; the readable line on stderr too unless stdout is a
    terminal, where it would say the same thing twice. Returns ``code``."""
    emit_json({"ok": False, "error": message, **fields})
    if not _on_terminal():
        sys.stderr.write(f"aureond: {message}\n")
    return code
