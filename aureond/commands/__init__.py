"""Command-line subcommands. Each module exposes ``register(subparsers)``.

A subcommand's handler takes the parsed ``argparse.Namespace`` and returns the process
exit code. Machine-readable output goes to stdout as JSON; diagnostics go to stderr.
"""
