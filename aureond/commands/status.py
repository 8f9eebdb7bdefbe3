"""``aureond status``: ask a running node how it is doing.

Fetches ``GET /v1/status`` and ``GET /health`` from the node's HTTP API and prints a
readable report (or, with ``--json``, both documents as one JSON line). The exit code
is the overall health, so scripts and checks can rely on it:

====  ==========================================================
0     pass (Healthy)
1     warn (Degraded: syncing, a stale tip, few peers, ...)
2     fail (Unhealthy: no peer, store not writable, ...)
3     no status: the node cannot be reached, or did not answer with aureond's JSON
====  ==========================================================
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aureond.commands import nodeclient
from aureond.commands.common import EXIT_UNREACHABLE, emit_json, fail_json
from aureond.commands.nodeclient import (
    DEFAULT_URL,
    FETCH_TIMEOUT,
    MAX_BODY,
    NodeUnreachableError,
)
from aureond.errors import AureonError
from aureond.monitoring.health import HealthReport, HealthStatus

__all__ = [
    "DEFAULT_URL",
    "EXIT_UNREACHABLE",
    "FETCH_TIMEOUT",
    "MAX_BODY",
    "NodeStatus",
    "NodeUnreachableError",
    "exit_code",
    "fetch_status",
    "register",
    "render_status",
]

_WANTED = "get the status of the node"


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """What the node answered: the parsed health report and both raw documents."""

    url: str
    health: HealthReport
    health_json: Mapping[str, Any]
    node_json: Mapping[str, Any]

    @property
    def status(self) -> HealthStatus:
        return self.health.status

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "status": self.status.value,
                "health": dict(self.health_json), "node": dict(self.node_json)}


def exit_code(status: HealthStatus) -> int:
    """0 for pass, 1 for warn, 2 for fail."""
    return status.severity


def normalize_url(url: str) -> str:
    """``host:port`` gets ``http://``; a trailing slash is dropped; only http(s)."""
    return nodeclient.normalize_url(url, wanted=_WANTED)


def _get_json(url: str, path: str, ok: frozenset[int], timeout: float) -> dict[str, Any]:
    reply = nodeclient.request(url, "GET", path, timeout=timeout, wanted=_WANTED)
    if reply.status not in ok:
        raise NodeUnreachableError(url, f"GET {path} answered HTTP {reply.status}",
                                   wanted=_WANTED)
    try:
        data = json.loads(reply.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise NodeUnreachableError(url, f"GET {path} did not answer JSON",
                                   wanted=_WANTED) from exc
    if not isinstance(data, dict):
        raise NodeUnreachableError(url, f"GET {path} did not answer a JSON object",
                                   wanted=_WANTED)
    return data


def fetch_status(url: str, *, timeout: float = FETCH_TIMEOUT) -> NodeStatus:
    """Fetch ``/health`` (200 or 503) and ``/v1/status`` from the node at ``url``."""
    base = normalize_url(url)
    health_json = _get_json(base, "/health", frozenset({200, 503}), timeout)
    node_json = _get_json(base, "/v1/status", frozenset({200}), timeout)
    try:
        health = HealthReport.from_health_json(health_json)
    except AureonError as exc:
        raise NodeUnreachableError(base, f"GET /health answered an unexpected document "
                                         f"({exc})", wanted=_WANTED) from exc
    return NodeStatus(url=base, health=health, health_json=health_json, node_json=node_json)


# --- the readable report ------------------------------------------------------------

def _value(value: object, unit: str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if unit == "ratio" and isinstance(value, float):
        return f"{value:.2%}"
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return f"{text} {unit}" if unit else text


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            .rstrip() for row in rows]


def _field(data: Mapping[str, Any], *path: str) -> Any:
    value: Any = data
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _shown(value: object) -> str:
    return "-" if value is None else str(value)


def render_status(node: NodeStatus) -> str:
    """The report for a terminal: overall status, checks, chain, sync and peers."""
    health, doc = node.health, node.node_json
    status = health.status
    network = _field(doc, "network")
    lines = [f"{health.service_id} {health.version}"
             f"{f' ({network})' if network else ''} at {node.url}",
             f"status: {status.value} ({status.label})"]
    uptime = _field(doc, "uptime_seconds")
    if isinstance(uptime, int | float):
        lines.append(f"uptime: {uptime:.0f} s")
    lines += ["", "Health checks"]
    rows = [("check", "status", "value", "output")]
    for result in health.results:
        check = result.check
        rows.append((result.key, check.status.value,
                     _value(check.observed_value, check.observed_unit), check.output))
    lines += _table(rows) if health.results else ["  (none)"]

    progress = _field(doc, "sync", "progress")
    reasons = _field(doc, "sync", "reasons") or []
    lines += [
        "",
        "Chain",
        f"  tip:              {_shown(_field(doc, 'tip', 'height'))} "
        f"{_shown(_field(doc, 'tip', 'hash'))}",
        f"  best peer height: {_shown(_field(doc, 'best_peer_height'))}",
        f"  sync:             {_shown(_field(doc, 'sync', 'state'))}, "
        + (f"{progress:.2%}" if isinstance(progress, int | float) else "progress unknown"),
    ]
    lines += [f"    - {reason}" for reason in reasons if isinstance(reason, str)]

    peers = _field(doc, "peers")
    by_state = _field(doc, "peers", "by_state")
    states = (", ".join(f"{name} {count}" for name, count in sorted(by_state.items()))
              if isinstance(by_state, Mapping) and by_state else "none")
    lines += ["", "Peers",
              f"  total {_shown(_field(peers, 'total'))}: {states}; "
              f"banned {_shown(_field(peers, 'banned'))}"]
    lines += _recovering(_field(peers, "recovering"))
    return "\n".join(lines) + "\n"


def _recovering(peers: object) -> list[str]:
    """One line per failing peer: attempts since it last worked and its last error."""
    if not isinstance(peers, list) or not peers:
        return []
    lines = ["  recovering:"]
    for peer in peers:
        if not isinstance(peer, Mapping):
            continue
        last = peer.get("last_error")
        error = (f"last {last.get('class')} {last.get('type')}: {last.get('message')} "
                 f"at {last.get('at')}" if isinstance(last, Mapping) else "no error yet")
        lines.append(f"    {_shown(peer.get('address'))}: "
                     f"{_shown(peer.get('attempts'))} attempts, {error}")
    return lines


# --- the command ----------------------------------------------------------------------

def register(sub: Any) -> None:
    status = sub.add_parser(
        "status", help="report a running node's health, sync state and peers",
        description="Asks the node's HTTP API (/health and /v1/status) and prints a "
                    "report, or JSON with --json. Exit codes: 0 pass, 1 warn, 2 fail, "
                    "3 the node cannot be reached.")
    status.add_argument("--url", default=DEFAULT_URL,
                        help=f"the node's HTTP API (default {DEFAULT_URL})")
    status.add_argument("--json", action="store_true",
                        help="print both documents as one JSON line")
    status.set_defaults(handler=_status)


def _status(args: argparse.Namespace) -> int:
    try:
        node = fetch_status(args.url)
    except NodeUnreachableError as exc:
        if args.json:
            return fail_json(EXIT_UNREACHABLE, str(exc), url=exc.url)
        sys.stderr.write(f"aureond: {exc}\n")
        return EXIT_UNREACHABLE
    if args.json:
        emit_json(node.to_dict())
    else:
        sys.stdout.write(render_status(node))
        sys.stdout.flush()
    return exit_code(node.status)
