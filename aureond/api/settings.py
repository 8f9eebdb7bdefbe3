"""The HTTP API's settings, as a plain value the daemon fills from its configuration."""

from __future__ import annotations

import math
from dataclasses import dataclass

from aureond.api.auth import is_loopback
from aureond.errors import ConfigError

__all__ = ["ApiSettings"]


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """How the app behaves; checked on construction (``ConfigError`` names the field).

    ``bind_host`` is where the server will listen. Beyond loopback, requests that change
    state need ``Authorization: Bearer <token>``, so ``token`` is then required.
    """

    bind_host: str = "127.0.0.1"
    token: str | None = None
    max_body_bytes: int = 64 * 1024
    rate_per_second: float = 50.0
    rate_burst: int = 100
    rate_max_clients: int = 10_000
    """Distinct client addresses tracked by the rate limiter at once."""

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise ConfigError("http.max_body_bytes", "must be at least 1 byte")
        if not (math.isfinite(self.rate_per_second) and self.rate_per_second > 0):
            raise ConfigError("http.rate_per_second", "must be a positive number")
        if self.rate_burst < 1:
            raise ConfigError("http.rate_burst", "must be at least 1 request")
        if self.rate_max_clients < 1:
            raise ConfigError("http.rate_max_clients", "must be at least 1")
        if self.token is not None and not self.token:
            raise ConfigError("http.token_file", "the token is empty; put a random token "
                              "in the file (e.g. `openssl rand -hex 32`)")
        if self.auth_required and self.token is None:
            raise ConfigError("http.listen", f"binding {self.bind_host} is beyond loopback "
                              "and needs a bearer token: set http.token_file (or provide "
                              "the credential through systemd)")

    @property
    def auth_required(self) -> bool:
        """True when state-changing requests need the bearer token."""
        return not is_loopback(self.bind_host)
