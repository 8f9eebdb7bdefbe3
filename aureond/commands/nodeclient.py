"""A small blocking JSON-over-HTTP client for the commands that ask a running node.

The commands (``aureond status``, ``aureond accounts``) are one-shot processes, so a
plain ``urllib`` request with a timeout and a cap on the answer is all they need. The
client connects to the node directly (no proxy from the environment) and does not
follow redirects, so a bearer token only ever goes to the address given with ``--url``.
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aureond.errors import AureonError
from aureond.tokenfile import TokenFileError, check_token, read_token_file

__all__ = [
    "DEFAULT_URL",
    "FETCH_TIMEOUT",
    "MAX_BODY",
    "TOKEN_ENV",
    "NodeReply",
    "NodeUnreachableError",
    "TokenError",
    "normalize_url",
    "read_token",
    "request",
    "resolve_token",
]

DEFAULT_URL = "http://127.0.0.1:8787"
FETCH_TIMEOUT = 5.0
"""Seconds for each request; a node that answers slower than this is not healthy."""
MAX_BODY = 4 * 1024 * 1024
"""Bytes read from an answer at most (the documents are a few kilobytes)."""
TOKEN_ENV = "AUREOND_HTTP_TOKEN"  # noqa: S105 (a variable name, not a secret)
"""Environment variable holding the bearer token when no ``--token-file`` is given."""


class NodeUnreachableError(AureonError):
    """No usable answer from the node at ``url``; the message says what to check.

    ``wanted`` completes "cannot ... at URL" (e.g. "get the status of the node").
    """

    def __init__(self, url: str, reason: str, *, wanted: str = "reach the node") -> None:
        self.url = url
        self.reason = reason
        super().__init__(
            f"cannot {wanted} at {url}: {reason}. Check that `aureond run` is running "
            f"and that its HTTP API listens there ([http] listen, AUREOND_HTTP__LISTEN or "
            f"--http); pass another address with --url")


TokenError = TokenFileError
"""The bearer token cannot be read; the message never contains the token."""


def normalize_url(url: str, *, wanted: str = "reach the node") -> str:
    """``host:port`` gets ``http://``; a trailing slash is dropped; only http(s)."""
    text = url.strip()
    if "://" not in text:
        text = f"http://{text}"
    scheme = text.partition("://")[0].lower()
    if scheme not in ("http", "https"):
        raise NodeUnreachableError(url, f"only http:// and https:// URLs are asked, "
                                        f"not {scheme}://", wanted=wanted)
    return text.rstrip("/")


def read_token(path: Path) -> str:
    """The bearer token in ``path`` (surrounding whitespace stripped)."""
    return read_token_file(path)


def resolve_token(token_file: Path | None,
                  environ: Mapping[str, str] | None = None) -> str | None:
    """``--token-file`` if given, else ``$AUREOND_HTTP_TOKEN`` if set, else None."""
    if token_file is not None:
        return read_token(token_file)
    env = os.environ if environ is None else environ
    value = env.get(TOKEN_ENV)
    if value is None or not value.strip():
        return None
    return check_token(value, f"${TOKEN_ENV}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as the HTTP error it is, never followed."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> urllib.request.Request | None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


@dataclass(frozen=True, slots=True)
class NodeReply:
    """The node's answer: HTTP status and the raw body (at most ``MAX_BODY`` bytes)."""

    status: int
    body: bytes

    def json_object(self) -> dict[str, Any] | None:
        """The body as a JSON object, or None when it is not one."""
        try:
            data = json.loads(self.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None
        return data if isinstance(data, dict) else None


def _read_capped(resp: Any, url: str, what: str, max_body: int, wanted: str) -> bytes:
    body: bytes = resp.read(max_body + 1)
    if len(body) > max_body:
        raise NodeUnreachableError(url, f"{what} answered more than {max_body} bytes",
                                   wanted=wanted)
    return body


def request(url: str, method: str, path: str, *, body: Mapping[str, Any] | None = None,
            token: str | None = None, timeout: float = FETCH_TIMEOUT,
            max_body: int = MAX_BODY, wanted: str = "reach the node") -> NodeReply:
    """Send one request to the node at ``url`` (already normalised) and read the answer.

    Any HTTP status is returned (errors included); ``NodeUnreachableError`` means no
    answer at all: refused, timed out, reset, or an answer larger than ``max_body``.
    ``token`` is sent as ``Authorization: Bearer``; ``body`` as JSON.
    """
    what = f"{method} {path}"
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        # The scheme is http or https: normalize_url refuses anything else.
        req = urllib.request.Request(url + path, data=data, headers=headers,  # noqa: S310
                                     method=method)
        try:
            with _OPENER.open(req, timeout=timeout) as resp:
                status = resp.status
                raw = _read_capped(resp, url, what, max_body, wanted)
        except urllib.error.HTTPError as exc:  # an answer all the same: 4xx, 5xx, 3xx
            try:
                status, raw = exc.code, _read_capped(exc, url, what, max_body, wanted)
            finally:
                exc.close()
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise NodeUnreachableError(url, f"{what} failed ({reason})", wanted=wanted) from exc
    return NodeReply(status, raw)
