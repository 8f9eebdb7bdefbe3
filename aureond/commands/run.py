"""``aureond run``: the daemon."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import structlog

from aureond.clock import SeededRandom, SystemClock
from aureond.commands.common import EXIT_CONFIG, EXIT_FATAL, EXIT_OK, EXIT_STORE
from aureond.errors import ConfigError, StoreError

__all__ = ["register"]


def register(sub: Any) -> None:
    run = sub.add_parser(
        "run", help="run the daemon: sync headers, serve /health, /metrics and the API",
        description="Runs until SIGTERM or SIGINT. Exit codes: 0 clean stop, 3 "
                    "configuration error, 4 store error, 5 fatal runtime error.")
    run.add_argument("--config", type=Path, metavar="FILE",
                     help="TOML config (default: $AUREOND_CONFIG or /etc/aureond/aureond.toml)")
    run.add_argument("--network", help="network name (overrides the config)")
    run.add_argument("--data-dir", type=Path, metavar="DIR")
    run.add_argument("--connect", action="append", metavar="HOST:PORT",
                     help="peer to use; repeat for several; only these are used")
    run.add_argument("--http", metavar="HOST:PORT", help="where the HTTP API listens")
    run.set_defaults(handler=_run)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args.network:
        out["network"] = args.network
    if args.data_dir:
        out["data_dir"] = args.data_dir
    if args.connect:
        out["p2p"] = {"connect": args.connect}
    if args.http:
        out["http"] = {"listen": args.http}
    return out


def _loop_factory() -> Any:
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up, imported where used
    except ImportError:  # pragma: no cover - uvloop is a dependency
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def _run(args: argparse.Namespace) -> int:
    from aureond.commands.config import resolve_network  # noqa: PLC0415
    from aureond.service.config import load_settings  # noqa: PLC0415
    from aureond.service.daemon import Daemon, install_signal_handlers  # noqa: PLC0415
    from aureond.service.logging import configure_logging  # noqa: PLC0415

    try:
        settings = load_settings(args.config, _overrides(args))
        params = resolve_network(settings)
    except ConfigError as exc:
        sys.stderr.write(f"aureond: configuration error: {exc}\n")
        return EXIT_CONFIG
    configure_logging(settings.log.level, settings.log.format)
    log = structlog.get_logger("aureond.node")
    clock = SystemClock()
    rng = SeededRandom(int.from_bytes(os.urandom(8), "little"))

    async def main() -> int:
        daemon = Daemon(settings, params, clock=clock, rng=rng)
        install_signal_handlers(daemon)
        await daemon.run()
        return EXIT_OK

    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            return runner.run(main())
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception as exc:  # the last line of defence: log and exit
        cause = _leaf(exc)
        if isinstance(cause, ConfigError):
            log.error("node.config_error", error=str(cause), key=cause.field)
            sys.stderr.write(f"aureond: configuration error: {cause}\n")
            return EXIT_CONFIG
        if isinstance(cause, StoreError):
            log.error("node.store_error", error=str(cause))
            sys.stderr.write(f"aureond: store error: {cause}\n")
            return EXIT_STORE
        log.error("node.fatal", error=repr(cause), exc_info=cause)
        sys.stderr.write(f"aureond: fatal error: {cause!r}\n")
        return EXIT_FATAL


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups from a TaskGroup."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc
