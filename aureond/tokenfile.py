"""Bearer tokens read from files: the daemon's API token (``http.token_file`` or the
systemd credential) and the one the commands send to a running node.

A token file holds one ASCII token and nothing else (surrounding whitespace is
ignored); anything else is refused with a message that names the file and never
contains what is in it.
"""

from __future__ import annotations

from pathlib import Path

from aureond.errors import AureonError

__all__ = ["MAX_TOKEN_FILE", "TokenFileError", "check_token", "read_token_file"]

MAX_TOKEN_FILE = 4096
"""Bytes a token file may hold at most."""


class TokenFileError(AureonError):
    """The token cannot be read or is not one ASCII token; never contains the token."""


def check_token(text: str, source: str) -> str:
    """``text`` stripped, if it is one ASCII token without spaces; ``source`` names
    where it came from in the error."""
    token = text.strip()
    if not token or any(c.isspace() for c in token) or not token.isascii():
        raise TokenFileError(f"{source} must hold one ASCII token without spaces")
    return token


def read_token_file(path: Path) -> str:
    """The token in ``path``."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_TOKEN_FILE + 1)
    except OSError as exc:
        raise TokenFileError(f"cannot read the token file {path}: "
                             f"{exc.strerror or type(exc).__name__}") from None
    if len(raw) > MAX_TOKEN_FILE:
        raise TokenFileError(f"the token file {path} is larger than {MAX_TOKEN_FILE} "
                             "bytes; it should hold just the token")
    return check_token(raw.decode("latin-1"), f"the token file {path}")
