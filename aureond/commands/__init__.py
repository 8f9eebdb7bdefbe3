"""Command-line subcommands. Each module exposes ``register(subparsers)``.

A subcommand's handler takes the parsed ``argparse.Namespace`` and returns the process
exit code. Machine-readable output goes to stdout as JSON; diagnostics go to stderr.
An error is said once on a terminal: readable, or, for output whose contract is one JSON
line (the offline checks, ``--json``), that line (``aureond.commands.common``).
"""
