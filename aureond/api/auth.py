"""Bearer-token auth for requests that change state, and the one loopback test.

Bound to loopback, everything is open. Bound beyond it, state-changing requests need
``Authorization: Bearer <token>``; the token is compared in constant time. Reads,
``/metrics`` and ``/health*`` stay open. A non-loopback bind without a token never
starts: :class:`~aureond.api.settings.ApiSettings` refuses it when the daemon builds
its settings (after :func:`load_token`), and ``start_http`` refuses an app built for
loopback on any other address.
"""

from __future__ import annotations

import hmac
import ipaddress
from pathlib import Path

from aureond.errors import ApiError, ConfigError
from aureond.tokenfile import TokenFileError, read_token_file

__all__ = [
    "CREDENTIAL_NAME",
    "MIN_TOKEN_LENGTH",
    "check_bearer",
    "is_loopback",
    "load_token",
]

CREDENTIAL_NAME = "http-token"
"""File name of the token under systemd's ``$CREDENTIALS_DIRECTORY``."""

MIN_TOKEN_LENGTH = 16
"""Shortest token accepted: anything shorter is guessable over the network."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals; any other name is not."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_token(token_file: Path | None, credentials_directory: str | None = None) -> str | None:
    """Read the bearer token: ``token_file`` if given, else ``CREDENTIAL_NAME`` under
    ``credentials_directory`` (systemd ``LoadCredential=``) if present, else None.

    Surrounding whitespace is stripped. An unreadable, empty or short token is a
    ``ConfigError`` naming ``http.token_file``.
    """
    path = token_file
    if path is None and credentials_directory:
        candidate = Path(credentials_directory) / CREDENTIAL_NAME
        if candidate.is_file():
            path = candidate
    if path is None:
        return None
    try:
        token = read_token_file(path)
    except TokenFileError as exc:
        raise ConfigError("http.token_file", str(exc)) from exc
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError("http.token_file", f"{path} must hold one token of at least "
                          f"{MIN_TOKEN_LENGTH} characters without spaces (e.g. "
                          "`openssl rand -hex 32`)")
    return token


def check_bearer(authorization: str | None, token: str) -> None:
    """Raise a 401 ``ApiError`` unless ``authorization`` is ``Bearer <token>``."""
    if not authorization:
        raise ApiError(401, "unauthorized", "this request changes state and needs "
                       "'Authorization: Bearer <token>'")
    scheme, _, presented = authorization.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise ApiError(401, "unauthorized", "use the Bearer scheme: "
                       "'Authorization: Bearer <token>'")
    # Compare bytes: compare_digest refuses non-ASCII str, and bytes never raise.
    if not hmac.compare_digest(presented.strip().encode("utf-8", "replace"),
                               token.encode("utf-8")):
        raise ApiError(401, "invalid_token", "the bearer token is not valid")
