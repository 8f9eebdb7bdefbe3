"""``aureond`` command line: one argparse tree, subcommands in ``aureond.commands``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from aureond import __version__

__all__ = ["build_parser", "main"]

# Subcommand modules, each with ``register(subparsers)``; missing ones are skipped so
# the tree can grow one module at a time.
_COMMAND_MODULES = (
    "aureond.commands.run",
    "aureond.commands.config",
    "aureond.commands.status",
    "aureond.commands.headers",
    "aureond.commands.proof",
    "aureond.commands.stress",
    "aureond.commands.state",
    "aureond.commands.accounts",
    "aureond.commands.peers",
)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole tree, or (``only``) the tree with just that command's module imported:
    ``aureond run`` need not import the stress suite to start."""
    parser = argparse.ArgumentParser(
        prog="aureond",
        description="SPV light-client daemon for Bitcoin-family proof-of-work chains.")
    parser.add_argument("--version", action="version", version=f"aureond {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        if only is not None and name.rsplit(".", 1)[1] != only:
            continue
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    first = next((a for a in argv if not a.startswith("-")), None)
    known = {name.rsplit(".", 1)[1] for name in _COMMAND_MODULES}
    return first if first in known else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_of(argv))
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    code: int = handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
