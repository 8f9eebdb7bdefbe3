"""Networks by name for the commands: the built-in ones, and how to load any other."""

from __future__ import annotations

import difflib

from aureond.chain.params import NetworkParams, get_network, network_names
from aureond.errors import ConfigError

__all__ = ["EXAMPLE_PROFILE", "LOAD_PROFILE", "builtin_network"]

EXAMPLE_PROFILE = "config/networks/example.toml"
LOAD_PROFILE = ('load it with network_profile = "path.toml" in the config file or '
                "AUREOND_NETWORK_PROFILE=path.toml, and set network to the name it defines")
"""How ``aureond run`` and ``config check`` take a network that is not built in."""


def builtin_network(name: str, *, load_profile: str = LOAD_PROFILE) -> NetworkParams:
    """The built-in network ``name``; a ConfigError listing them and saying how to load
    a profile (``load_profile``) for any other."""
    if name in network_names():
        return get_network(name)
    close = difflib.get_close_matches(name, network_names(), n=1)
    meant = f" (did you mean {close[0]}?)" if close else ""
    raise ConfigError("network", f"unknown network {name!r}{meant}; built in: "
                      f"{', '.join(network_names())}. For another network, describe it in a "
                      f"profile file (see {EXAMPLE_PROFILE} in the source tree), then "
                      f"{load_profile}")
