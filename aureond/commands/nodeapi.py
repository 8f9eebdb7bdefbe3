"""What the commands that manage a running node share: one call to its HTTP API, the
exit codes, and the output of a document as JSON or readable text.

A command is a set of actions, each ``action(args, node) -> exit code`` wrapped by
:func:`handler`, which turns the errors into exit codes:

====  ================================================================================
0     done
1     not found (the node answered 404)
2     bad input, refused by the node (its JSON error names the problem, e.g. a missing
      or wrong token) or locally (an unreadable token file, an output directory)
3     no usable answer: the node cannot be reached, failed, or is not aureond
====  ================================================================================
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aureond.commands import nodeclient
from aureond.commands.common import EXIT_OK, EXIT_UNREACHABLE, emit_json, fail_json
from aureond.commands.nodeclient import TOKEN_ENV, NodeUnreachableError, TokenError
from aureond.errors import AureonError

__all__ = ["EXIT_BAD_INPUT", "EXIT_NOT_FOUND", "EXIT_OK", "EXIT_UNREACHABLE", "Action",
           "Doc", "LocalInputError", "NodeApi", "NodeRefusedError", "clean", "handler",
           "items", "output", "table"]

EXIT_NOT_FOUND = 1
EXIT_BAD_INPUT = 2

Doc = dict[str, Any]


class NodeRefusedError(AureonError):
    """The node answered 4xx with its JSON error ``{"code", "message"}``."""

    def __init__(self, what: str, status: int, error: Mapping[str, Any]) -> None:
        self.status = status
        self.error = dict(error)
        hint = (f"; give the node's token with --token-file FILE or ${TOKEN_ENV}"
                if status == 401 else "")
        super().__init__(f"the node refused {what} (HTTP {status} {error['code']}): "
                         f"{error['message']}{hint}")

    @property
    def exit_code(self) -> int:
        return EXIT_NOT_FOUND if self.status == 404 else EXIT_BAD_INPUT


class LocalInputError(AureonError):
    """A problem on this side (an argument, an output directory); exit 2."""


class NodeApi:
    """The node's API at ``url``, answering JSON objects or raising."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url
        self._token = token

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Doc:
        what = f"{method} {path}"
        reply = nodeclient.request(self.url, method, path, body=body, token=self._token)
        if reply.status == 204:
            return {}
        doc = reply.json_object()
        if 200 <= reply.status < 300:
            if doc is None:
                raise NodeUnreachableError(self.url, f"{what} did not answer a JSON object")
            return doc
        error = doc.get("error") if doc is not None else None
        if not (isinstance(error, dict) and isinstance(error.get("code"), str)
                and isinstance(error.get("message"), str)):
            raise NodeUnreachableError(self.url, f"{what} answered HTTP {reply.status} "
                                                 "without aureond's JSON error")
        if 400 <= reply.status < 500:
            raise NodeRefusedError(what, reply.status, error)
        raise NodeUnreachableError(self.url, f"{what} answered HTTP {reply.status} "
                                             f"({error['code']}: {error['message']})")


# --- readable output -------------------------------------------------------------------

def clean(value: object) -> str:
    """Text from the node for a terminal: ``-`` for None, control characters escaped."""
    if value is None:
        return "-"
    text = str(value)
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def table(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [(indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
            .rstrip() for row in rows]


def items(doc: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = doc.get(key)
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def output(args: argparse.Namespace, doc: Mapping[str, Any], text: str) -> int:
    """The node's document as one JSON line with ``--json``, else ``text``; exit 0."""
    if args.json:
        emit_json(doc)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return EXIT_OK


# --- running an action -----------------------------------------------------------------

Action = Callable[[argparse.Namespace, NodeApi], int]


def _error(args: argparse.Namespace, code: int, message: str, **fields: Any) -> int:
    if args.json:
        return fail_json(code, message, **fields)
    sys.stderr.write(f"aureond: {message}\n")
    return code


def handler(action: Action, *, token: bool = True) -> Callable[[argparse.Namespace], int]:
    """``action`` with the node at ``args.url`` and, when ``token``, the bearer token
    (``args.token_file`` or ``$AUREOND_HTTP_TOKEN``); errors become exit codes."""
    def run(args: argparse.Namespace) -> int:
        try:
            bearer = nodeclient.resolve_token(args.token_file) if token else None
            node = NodeApi(nodeclient.normalize_url(args.url), bearer)
            return action(args, node)
        except TokenError as exc:
            return _error(args, EXIT_BAD_INPUT, str(exc))
        except LocalInputError as exc:
            return _error(args, EXIT_BAD_INPUT, str(exc))
        except NodeRefusedError as exc:
            return _error(args, exc.exit_code, str(exc), http_status=exc.status,
                          node_error=exc.error)
        except NodeUnreachableError as exc:
            return _error(args, EXIT_UNREACHABLE, str(exc), url=exc.url)
    return run
