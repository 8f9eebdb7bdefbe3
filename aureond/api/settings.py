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
    monitoring_rate_per_second: float = 50.0
    """Per-client budget of ``/health*`` and ``/metrics``, apart from the rest."""
    monitoring_rate_burst: int = 100
    max_connections: int = 0
    """Open HTTP connections at most; 0: the open-file limit minus ``fd_reserve`` (see
    :func:`aureond.api.connections.connection_cap`)."""
    fd_reserve: int = 512
    """File descriptors kept out of the HTTP connections' reach (store, peers, logs)."""
    head_timeout: float = 10.0
    """Seconds a request head may take (from accept, or from its first byte)."""
    body_timeout: float = 10.0
    """Seconds a request body may take to arrive, from the start of its handling."""
    idle_timeout: float = 30.0
    """Seconds a kept-alive connection may wait for its next request."""
    send_timeout: float = 30.0
    """Seconds a client may leave our answer unread (the send buffer full)."""

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise ConfigError("http.max_body_bytes", "must be at least 1 byte")
        if not (math.isfinite(self.rate_per_second) and self.rate_per_second > 0):
            raise ConfigError("http.rate_per_second", "must be a positive number")
        if self.rate_burst < 1:
            raise ConfigError("http.rate_burst", "must be at least 1 request")
        if self.rate_max_clients < 1:
            raise ConfigError("http.rate_max_clients", "must be at least 1")
        if not (math.isfinite(self.monitoring_rate_per_second)
                and self.monitoring_rate_per_second > 0):
            raise ConfigError("http.monitoring_rate_per_second", "must be a positive number")
        if self.monitoring_rate_burst < 1:
            raise ConfigError("http.monitoring_rate_burst", "must be at least 1 request")
        if self.max_connections < 0:
            raise ConfigError("http.max_connections", "must be 0 (derive it from the "
                              "open-file limit) or a positive number of connections")
        if self.fd_reserve < 0:
            raise ConfigError("http.fd_reserve", "must be 0 or more file descriptors")
        for name in ("head_timeout", "body_timeout", "idle_timeout", "send_timeout"):
            seconds = getattr(self, name)
            if not (math.isfinite(seconds) and seconds > 0):
                raise ConfigError(f"http.{name}", "must be a positive number of seconds")
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
