"""``aureond accounts``: manage the watched accounts of a running node over its HTTP API.

::

    aureond accounts add --label L --watch ADDR_OR_SCRIPT_HEX [--watch ...] --birthday H
    aureond accounts list
    aureond accounts show ID
    aureond accounts delete ID
    aureond accounts proofs ID [--out DIR]
    aureond accounts snapshots [HEIGHT]
    aureond accounts snapshot

Each action takes ``--url`` (default ``http://127.0.0.1:8787``), ``--json`` (one JSON
line: the node's document) and ``--token-file FILE``; without it the bearer token is
read from ``$AUREOND_HTTP_TOKEN``. A node bound beyond loopback needs the token for
``add``, ``delete`` and ``snapshot``. The token is never taken on the command line and
never printed.

``proofs --out DIR`` writes one file per transaction, ``DIR/<txid>.json``, which
``aureond proof verify --electrum FILE`` reads, and prints that command with the
block header the node holds. ``snapshots`` lists the stored state snapshots (or shows
the one at ``HEIGHT``); ``snapshot`` takes one now (check a snapshot file offline with
``aureond state verify``).

Exit codes:

====  ================================================================================
0     done
1     not found: no such account or snapshot (or the node keeps no account state)
2     bad input, refused by the node (its JSON error names the problem, e.g. a bad
      address, a missing or wrong token) or locally (unreadable token file, --out)
3     no usable answer: the node cannot be reached, failed, or is not aureond
====  ================================================================================
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aureond.commands import nodeclient
from aureond.commands.common import EXIT_OK, EXIT_UNREACHABLE, emit_json, fail_json
from aureond.commands.nodeclient import (
    DEFAULT_URL,
    TOKEN_ENV,
    NodeUnreachableError,
    TokenError,
)
from aureond.errors import AureonError

__all__ = ["EXIT_BAD_INPUT", "EXIT_NOT_FOUND", "EXIT_OK", "EXIT_UNREACHABLE",
           "NodeRefusedError", "register"]

EXIT_NOT_FOUND = 1
EXIT_BAD_INPUT = 2

_EXIT_HELP = ("Exit codes: 0 done; 1 not found (no such account or snapshot); 2 bad input "
              "(the node's JSON error, or a local problem, is printed); 3 the node cannot "
              "be reached or gave no usable answer.")
_TXID = re.compile(r"[0-9a-f]{64}")

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
    """A problem on this side (the --out directory); exit 2."""


class _Node:
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

def _clean(value: object) -> str:
    """Text from the node for a terminal: ``-`` for None, control characters escaped."""
    if value is None:
        return "-"
    text = str(value)
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _table(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [(indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
            .rstrip() for row in rows]


def _items(doc: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = doc.get(key)
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _coins(sat: object) -> str:
    """``12345 sat (0.00012345)``: whole coins of 10^8 sat, without a currency name."""
    if not isinstance(sat, int) or isinstance(sat, bool):
        return _clean(sat)
    sign = "-" if sat < 0 else ""
    whole, frac = divmod(abs(sat), 10**8)
    return f"{sat} sat ({sign}{whole}.{frac:08d})"


def _watched(item: Mapping[str, Any]) -> str:
    return _clean(item.get("address") or item.get("script"))


def render_list(doc: Mapping[str, Any]) -> str:
    accounts = _items(doc, "accounts")
    lines = []
    if accounts:
        rows = [("ID", "LABEL", "BIRTHDAY", "WATCHING")]
        for a in accounts:
            watch = _items(a, "watch")
            first = _watched(watch[0]) if watch else "-"
            more = f" (+{len(watch) - 1} more)" if len(watch) > 1 else ""
            rows.append((_clean(a.get("id")), _clean(a.get("label")),
                         _clean(a.get("birthday")), first + more))
        lines += _table(rows, indent="")
    else:
        lines.append("no accounts")
    scan = doc.get("scan")
    if isinstance(scan, Mapping):
        lines.append(f"scan: ledger at height {_clean(scan.get('ledger_height'))} of "
                     f"{_clean(scan.get('target_height'))}, rescans "
                     f"{_clean(scan.get('rescans'))}, blocks in flight "
                     f"{_clean(scan.get('blocks_in_flight'))}")
    return "\n".join(lines) + "\n"


def render_account(doc: Mapping[str, Any]) -> str:
    lines = [f"account {_clean(doc.get('id'))}: {_clean(doc.get('label'))}",
             f"birthday: {_clean(doc.get('birthday'))}",
             f"balance:  {_coins(doc.get('balance_sat'))}", "", "Watching"]
    lines += _table([(_clean(w.get("kind")), _watched(w),
                      "" if w.get("address") is None else f"script {_clean(w.get('script'))}")
                     for w in _items(doc, "watch")]) or ["  (none)"]
    utxos = _items(doc, "utxos")
    lines += ["", f"UTXOs ({len(utxos)})"]
    rows: list[tuple[str, ...]] = [("OUTPOINT", "VALUE", "HEIGHT", "CONFIRMATIONS")]
    rows += [(f"{_clean(u.get('txid'))}:{_clean(u.get('vout'))}", _coins(u.get("value_sat")),
              _clean(u.get("height")), _clean(u.get("confirmations"))) for u in utxos]
    lines += _table(rows) if utxos else ["  (none)"]
    history = _items(doc, "history")
    lines += ["", f"History ({len(history)})"]
    rows = [("TXID", "KIND", "VALUE", "HEIGHT", "CONFIRMATIONS")]
    rows += [(_clean(h.get("txid")), _clean(h.get("kind")), _coins(h.get("value_sat")),
              _clean(h.get("height")), _clean(h.get("confirmations"))) for h in history]
    lines += _table(rows) if history else ["  (none)"]
    return "\n".join(lines) + "\n"


def _when(taken_at: object) -> str:
    if not isinstance(taken_at, int) or isinstance(taken_at, bool) or taken_at < 0:
        return _clean(taken_at)
    try:
        return datetime.fromtimestamp(taken_at, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return str(taken_at)


def render_snapshot(doc: Mapping[str, Any]) -> str:
    fields = [("height", doc.get("height")), ("block", doc.get("block_hash")),
              ("network", doc.get("network")), ("taken at", _when(doc.get("taken_at"))),
              ("accounts", doc.get("accounts")), ("state root", doc.get("state_root")),
              ("raw size", doc.get("raw_size")), ("compressed", doc.get("compressed_size")),
              ("ratio", doc.get("ratio")), ("codec", doc.get("codec"))]
    if "on_best_chain" in doc:
        fields.append(("on best chain", "yes" if doc["on_best_chain"] is True else "no"))
    return "\n".join(f"{name + ':':<15}{_clean(value)}" for name, value in fields) + "\n"


def render_snapshots(doc: Mapping[str, Any]) -> str:
    snaps = _items(doc, "snapshots")
    if not snaps:
        return "no snapshots\n"
    rows = [("HEIGHT", "BLOCK", "ACCOUNTS", "STATE ROOT", "BYTES", "RATIO", "TAKEN AT")]
    rows += [(_clean(s.get("height")), _clean(s.get("block_hash")), _clean(s.get("accounts")),
              _clean(s.get("state_root")), _clean(s.get("compressed_size")),
              _clean(s.get("ratio")), _when(s.get("taken_at"))) for s in snaps]
    return "\n".join(_table(rows, indent="")) + "\n"


# --- proofs as files --------------------------------------------------------------------

def _proof_file(proof: Mapping[str, Any]) -> Doc:
    """What ``aureond proof verify --electrum`` reads: the ``get_merkle`` answer with
    ``tx_hash``, wrapped with the block's transaction count when the node gave it (the
    count tightens the check)."""
    case = {"tx_hash": proof.get("tx_hash"), "merkle": proof.get("merkle"),
            "pos": proof.get("pos"), "block_height": proof.get("block_height")}
    count = proof.get("tx_count")
    if isinstance(count, int) and not isinstance(count, bool) and count > 0:
        return {"tx_count": count, "cases": [case]}
    return case


def write_proofs(doc: Mapping[str, Any], out: Path, network: str, url: str) -> list[Doc]:
    """One file per proof under ``out``; each entry names the file and its command.

    ``url`` is the node's, for the error when a proof's ``tx_hash`` (the file name) is
    not a txid."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LocalInputError(f"--out {out}: {exc.strerror or exc}") from None
    written = []
    for proof in _items(doc, "proofs"):
        txid = proof.get("tx_hash")
        if not isinstance(txid, str) or not _TXID.fullmatch(txid):
            raise NodeUnreachableError(url, f"a proof's tx_hash is not a txid: "
                                            f"{_clean(txid)[:80]}")
        path = out / f"{txid}.json"
        try:
            path.write_text(json.dumps(_proof_file(proof), indent=1) + "\n")
        except OSError as exc:
            raise LocalInputError(f"cannot write {path}: {exc.strerror or exc}") from None
        header = proof.get("header")
        command = None
        if isinstance(header, str):
            command = shlex.join(["aureond", "proof", "verify", "--network", network,
                                  "--header", header, "--electrum", str(path)])
        written.append({"tx_hash": txid, "file": str(path), "command": command})
    return written


# --- the actions ------------------------------------------------------------------------

def _id_path(args: argparse.Namespace, suffix: str = "") -> str:
    return f"/v1/accounts/{quote(args.id, safe='')}{suffix}"


def _out(args: argparse.Namespace, doc: Mapping[str, Any], text: str) -> int:
    if args.json:
        emit_json(doc)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return EXIT_OK


def _add(args: argparse.Namespace, node: _Node) -> int:
    doc = node.call("POST", "/v1/accounts", {"label": args.label, "watch": args.watch,
                                             "birthday": args.birthday})
    account_id = _clean(doc.get("id"))
    return _out(args, doc, f"added account {account_id}; see it with "
                           f"`aureond accounts show {account_id}`\n")


def _list(args: argparse.Namespace, node: _Node) -> int:
    doc = node.call("GET", "/v1/accounts")
    return _out(args, doc, render_list(doc))


def _show(args: argparse.Namespace, node: _Node) -> int:
    doc = node.call("GET", _id_path(args))
    return _out(args, doc, render_account(doc))


def _delete(args: argparse.Namespace, node: _Node) -> int:
    node.call("DELETE", _id_path(args))
    return _out(args, {"id": args.id, "deleted": True}, f"deleted account {args.id}\n")


def _proofs(args: argparse.Namespace, node: _Node) -> int:
    doc = node.call("GET", _id_path(args, "/proofs"))
    proofs = _items(doc, "proofs")
    if args.out is None:
        rows = [("TXID", "HEIGHT", "POS", "CONFIRMATIONS", "BLOCK")]
        rows += [(_clean(p.get("tx_hash")), _clean(p.get("block_height")), _clean(p.get("pos")),
                  _clean(p.get("confirmations")), _clean(p.get("block_hash")))
                 for p in proofs]
        text = ("\n".join(_table(rows, indent="")) + "\nwrite them as files to verify with "
                "--out DIR\n") if proofs else "no proofs\n"
        return _out(args, doc, text)
    network = node.call("GET", "/v1/status").get("network")
    written = write_proofs(doc, args.out, network if isinstance(network, str) else "NETWORK",
                           node.url)
    lines = [f"wrote {len(written)} proof file(s) to {args.out}"]
    for entry in written:
        lines.append(entry["command"] or f"# {entry['file']}: its block is not on the "
                                          "node's best chain; no header to check it against")
    return _out(args, {**doc, "files": written}, "\n".join(lines) + "\n")


def _snapshots(args: argparse.Namespace, node: _Node) -> int:
    if args.height is not None:
        doc = node.call("GET", f"/v1/state/snapshots/{args.height}")
        return _out(args, doc, render_snapshot(doc))
    doc = node.call("GET", "/v1/state/snapshots")
    return _out(args, doc, render_snapshots(doc))


def _snapshot(args: argparse.Namespace, node: _Node) -> int:
    doc = node.call("POST", "/v1/state/snapshots")
    return _out(args, doc, "took a snapshot\n" + render_snapshot(doc))


Action = Callable[[argparse.Namespace, _Node], int]


def _error(args: argparse.Namespace, code: int, message: str, **fields: Any) -> int:
    if args.json:
        return fail_json(code, message, **fields)
    sys.stderr.write(f"aureond: {message}\n")
    return code


def _handler(action: Action) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        try:
            node = _Node(nodeclient.normalize_url(args.url),
                         nodeclient.resolve_token(args.token_file))
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
    return handler


# --- the command ------------------------------------------------------------------------

def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=DEFAULT_URL,
                        help=f"the node's HTTP API (default {DEFAULT_URL})")
    common.add_argument("--token-file", type=Path, metavar="FILE",
                        help=f"file holding the node's bearer token (default: ${TOKEN_ENV} "
                             "if set); needed beyond loopback for add, delete and snapshot")
    common.add_argument("--json", action="store_true",
                        help="print the node's document as one JSON line")
    return common


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "accounts", help="manage a running node's watched accounts and state snapshots",
        description="Add, list, show and delete the accounts a running node watches, get "
                    "their inclusion proofs, and list or take state snapshots, through "
                    f"the node's HTTP API. {_EXIT_HELP}")
    sub = parser.add_subparsers(dest="accounts_command", metavar="ACTION", required=True)
    common = [_common()]

    def action(name: str, help_text: str, run: Action) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(
            name, parents=common, help=help_text,
            description=f"{help_text[0].upper()}{help_text[1:]}. {_EXIT_HELP}")
        p.set_defaults(handler=_handler(run))
        return p

    add = action("add", "watch a new account", _add)
    add.add_argument("--label", required=True, help="a name for the account (printable)")
    add.add_argument("--watch", required=True, action="append", metavar="ADDR_OR_SCRIPT_HEX",
                     help="an address of the node's network or a scriptPubKey in hex; "
                          "repeat for more")
    add.add_argument("--birthday", required=True, type=int, metavar="HEIGHT",
                     help="the block height from which to scan")
    action("list", "list the accounts and the block scan's progress", _list)
    show = action("show", "show an account: balance, UTXOs and history", _show)
    show.add_argument("id", metavar="ID", help="the account id (16 hex digits)")
    delete = action("delete", "stop watching an account", _delete)
    delete.add_argument("id", metavar="ID", help="the account id (16 hex digits)")
    proofs = action("proofs", "the merkle proofs of an account's transactions", _proofs)
    proofs.add_argument("id", metavar="ID", help="the account id (16 hex digits)")
    proofs.add_argument("--out", type=Path, metavar="DIR",
                        help="write one file per proof here (DIR/<txid>.json) and print "
                             "the 'aureond proof verify' command for each")
    snaps = action("snapshots", "list the stored state snapshots", _snapshots)
    snaps.add_argument("height", nargs="?", type=int, metavar="HEIGHT",
                       help="show only the snapshot anchored at this height")
    action("snapshot", "take a state snapshot now", _snapshot)
