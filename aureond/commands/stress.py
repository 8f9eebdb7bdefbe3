"""``aureond stress``: run the stress scenarios, print a table, exit non-zero on a bar."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import structlog

from aureond.commands.common import EXIT_INVALID, EXIT_MALFORMED, EXIT_OK, fail, fail_json
from aureond.stress.report import render_table, reports_to_json
from aureond.stress.runner import SCENARIOS, machine_info, run_scenarios
from aureond.stress.scale import SCALES

__all__ = ["register"]

DATA_ENV = "AUREOND_TEST_DATA"


def register(sub: Any) -> None:
    names = ", ".join(SCENARIOS)
    parser = sub.add_parser(
        "stress", help="run stress scenarios against the real components",
        description=f"Run stress scenarios ({names}; all when none is named) and print a "
                    "table of operations, duration, ops/s, peak memory, success rate and "
                    "latency percentiles. Exit 0 when every scenario meets its bars "
                    "(100%% success, every injected fault handled, memory per 10,000 "
                    "headers held), 1 otherwise, 2 for bad arguments.")
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                        help=f"one or more of: {names}")
    parser.add_argument("--scale", choices=tuple(SCALES), default="small",
                        help="small: CI-sized (default); full: the large runs, by hand; "
                             "tiny: seconds, for the test suite")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="also write the full report as JSON to FILE ('-': stdout)")
    parser.add_argument("--data", type=Path, metavar="DIR",
                        help="real chain data (header runs) to validate as well; default "
                             f"${DATA_ENV} when set")
    parser.add_argument("--no-trace", action="store_true",
                        help="skip the tracemalloc pass (faster; no Python heap peak)")
    parser.add_argument("--seed", type=int, default=1, help="seed of every random choice")
    parser.add_argument("--inject-failure", action="append", default=[], metavar="SCENARIO",
                        help="corrupt one input of SCENARIO that is not an announced "
                             "fault, to prove the run then fails (repeatable)")
    parser.set_defaults(handler=_stress)


def _quiet_logs() -> None:
    """Warnings and errors only, on stderr: the table owns stdout."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
                        logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)


def _stress(args: argparse.Namespace) -> int:
    error = fail_json if args.json is not None and str(args.json) == "-" else fail
    names = list(dict.fromkeys(args.scenarios)) or list(SCENARIOS)
    unknown = [n for n in [*names, *args.inject_failure] if n not in SCENARIOS]
    if unknown:
        return error(EXIT_MALFORMED, f"unknown scenario {unknown[0]!r}; choose from "
                    f"{', '.join(SCENARIOS)}")
    data = args.data if args.data is not None else (
        Path(os.environ[DATA_ENV]) if os.environ.get(DATA_ENV) else None)
    if data is not None and not data.is_dir():
        return error(EXIT_MALFORMED, f"the data directory {data} does not exist")
    _quiet_logs()
    reports = run_scenarios(names, args.scale, data_dir=data, progress=sys.stderr,
                            inject_failure=args.inject_failure, trace=not args.no_trace,
                            seed=args.seed)
    doc = reports_to_json(reports, scale=args.scale, machine=machine_info())
    if args.json is not None and str(args.json) == "-":
        sys.stdout.write(json.dumps(doc, sort_keys=True) + "\n")
    else:
        sys.stdout.write(f"aureond stress --scale {args.scale}\n{render_table(reports)}\n")
        if args.json is not None:
            try:
                args.json.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n",
                                     encoding="utf-8")
            except OSError as exc:
                return fail(EXIT_MALFORMED, f"cannot write {args.json}: {exc}")
    return EXIT_OK if doc["passed"] else EXIT_INVALID
