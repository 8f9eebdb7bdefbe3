"""``aureond peers``: a running node's ban list, over its HTTP API.

::

    aureond peers bans [--url URL] [--json]
    aureond peers unban ADDR [--url URL] [--token-file FILE] [--json]

``bans`` lists every ban in force: address, reason, when it was banned and when the
ban ends. ``unban`` lifts the ban of ``ADDR`` (``HOST:PORT``, ``[IPv6]:PORT``, or a
bare ``HOST`` for every port of it): the node saves the change to ``peers.json`` and
may dial the address again at once. A node bound beyond loopback needs its bearer
token for ``unban`` (``--token-file FILE``, else ``$AUREOND_HTTP_TOKEN``; never taken
on the command line, never printed). ``--json`` prints the node's document as one
JSON line.

Exit codes: 0 done; 1 not found (the address is not banned); 2 bad input (a bad
address, a missing or wrong token: the node's JSON error, or the local problem, is
printed); 3 the node cannot be reached or gave no usable answer.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aureond.commands.nodeapi import (
    EXIT_BAD_INPUT,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_UNREACHABLE,
    Action,
    LocalInputError,
    NodeApi,
    clean,
    handler,
    items,
    output,
    table,
)
from aureond.commands.nodeclient import DEFAULT_URL, TOKEN_ENV

__all__ = ["EXIT_BAD_INPUT", "EXIT_NOT_FOUND", "EXIT_OK", "EXIT_UNREACHABLE", "register",
           "render_bans"]

_EXIT_HELP = ("Exit codes: 0 done; 1 not found (the address is not banned); 2 bad input "
              "(the node's JSON error, or a local problem, is printed); 3 the node cannot "
              "be reached or gave no usable answer.")


def _when(stamp: object) -> str:
    """The API's RFC 3339 time as ``2026-01-02 03:04:05Z`` (anything else as given)."""
    if not isinstance(stamp, str):
        return clean(stamp)
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return clean(stamp)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _left(seconds: object) -> str:
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 0:
        return clean(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def render_bans(doc: Mapping[str, Any]) -> str:
    bans = items(doc, "bans")
    if not bans:
        return "no bans\n"
    rows = [("ADDRESS", "REASON", "BANNED AT", "EXPIRES AT", "LEFT")]
    rows += [(clean(b.get("address")), clean(b.get("reason")), _when(b.get("banned_at")),
              _when(b.get("expires_at")), _left(b.get("expires_in_seconds"))) for b in bans]
    return "\n".join(table(rows, indent="")) + "\n"


def _bans(args: argparse.Namespace, node: NodeApi) -> int:
    doc = node.call("GET", "/v1/peers/bans")
    return output(args, doc, render_bans(doc))


def _unban(args: argparse.Namespace, node: NodeApi) -> int:
    address = args.address.strip()
    if not address:
        raise LocalInputError("give the address to unban: HOST:PORT, [IPv6]:PORT or HOST "
                              "(see `aureond peers bans`)")
    doc = node.call("DELETE", f"/v1/peers/bans/{quote(address, safe='')}")
    lines = [f"unbanned {clean(b.get('address'))} (was: {clean(b.get('reason'))})"
             for b in items(doc, "unbanned")]
    lines.append("the node may connect to it again")
    return output(args, doc, "\n".join(lines) + "\n")


def _common(*, token: bool) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=DEFAULT_URL,
                        help=f"the node's HTTP API (default {DEFAULT_URL})")
    if token:
        common.add_argument("--token-file", type=Path, metavar="FILE",
                            help="file holding the node's bearer token (default: "
                                 f"${TOKEN_ENV} if set); needed when the node listens "
                                 "beyond loopback")
    common.add_argument("--json", action="store_true",
                        help="print the node's document as one JSON line")
    return common


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "peers", help="list and lift a running node's peer bans",
        description="List the peers a running node has banned, and lift a ban, through "
                    f"the node's HTTP API. {_EXIT_HELP}")
    sub = parser.add_subparsers(dest="peers_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str, run: Action, *,
               token: bool) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(
            name, parents=[_common(token=token)], help=help_text,
            description=f"{help_text[0].upper()}{help_text[1:]}. {_EXIT_HELP}")
        p.set_defaults(handler=handler(run, token=token))
        return p

    action("bans", "list the bans: address, reason, when banned, when the ban ends", _bans,
           token=False)
    unban = action("unban", "lift a ban; the node may connect to the address again at once",
                   _unban, token=True)
    unban.add_argument("address", metavar="ADDR",
                       help="HOST:PORT or [IPv6]:PORT as `aureond peers bans` lists it, "
                            "or HOST to lift the bans of every port")
