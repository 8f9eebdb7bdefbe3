"""``aureond config check``: validate the configuration and print the effective one."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from aureond.chain.params import NetworkParams
from aureond.chain.profile import params_from_toml
from aureond.commands.common import EXIT_CONFIG, EXIT_OK, emit_json, fail
from aureond.commands.networks import builtin_network
from aureond.errors import ConfigError
from aureond.service.config import Settings, load_settings

__all__ = ["register", "resolve_network"]


def register(sub: Any) -> None:
    config = sub.add_parser("config", help="check the configuration")
    csub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = csub.add_parser(
        "check", help="validate the configuration and print the effective values",
        description="Loads the config file, AUREOND_* environment variables and defaults "
                    "exactly as `aureond run` would, and prints the result as JSON. "
                    "Exit 0 when valid, 3 naming the bad key otherwise.")
    check.add_argument("--config", type=Path, metavar="FILE")
    check.set_defaults(handler=_check)


def resolve_network(settings: Settings) -> NetworkParams:
    """The NetworkParams named by the settings (built in, or from the profile file)."""
    if settings.network_profile is not None:
        try:
            text = settings.network_profile.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError("network_profile", f"cannot read: {exc}") from exc
        params = params_from_toml(text)
        if params.name != settings.network:
            raise ConfigError("network", f"the profile defines {params.name!r}; set "
                              f"network = {params.name!r}")
        return params
    return builtin_network(settings.network)


def _check(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
        params = resolve_network(settings)
    except ConfigError as exc:
        return fail(EXIT_CONFIG, str(exc), key=exc.field)
    emit_json({"ok": True, "network": params.name, "config": settings.public_dict()})
    return EXIT_OK
