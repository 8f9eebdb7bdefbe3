"""Every reason the node's code can give for a disconnect (or a header rejection) has a
named metric label: the source is read, not a list kept by hand.

The scan walks the AST of every module under ``aureond/`` for the calls that carry a
reason (``Disconnect(peer, reason, ...)``, ``PeerDisconnected(peer, reason, now)``,
``HeaderRejectedError(height, field, reason, ...)`` and its subclasses,
``HeadersRejected(peer, reason, height)``) and follows the argument back to its string literals: through local
assignments, conditional expressions and the parameters of the module's own helpers
(``self._drop(p, "low-work-flood", now)``). An f-string counts by its constant prefix
(``f"invalid-headers:{rule}"`` is ``invalid-headers:*``). An argument the scan cannot
follow fails the test, so a new way of passing reasons cannot slip past it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import aureond
from aureond.monitoring.prometheus import (
    DISCONNECT_REASONS,
    HEADER_REJECT_REASONS,
    OTHER_LABEL,
    BoundedLabel,
    disconnect_class,
)

SOURCE = Path(aureond.__file__).parent

Sinks = dict[str, tuple[int, str]]
"""Callee name -> (position of the reason argument, its keyword)."""

DISCONNECT_SINKS: Sinks = {"Disconnect": (1, "reason"), "PeerDisconnected": (1, "reason")}
REJECT_SINKS: Sinks = {"HeaderRejectedError": (2, "reason"), "PresyncMismatchError": (2, "reason"),
                       "HeadersRejected": (1, "reason")}
"""``HeaderRejectedError`` and its subclasses, and the notification that carries them."""
MAX_DEPTH = 6


class UnresolvedReasonError(Exception):
    """A reason argument the scan cannot follow back to literals."""


@dataclass(frozen=True, slots=True)
class Emitted:
    reason: str
    """The literal, or an f-string's constant prefix followed by ``*``."""
    where: str


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _argument(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    if position < len(call.args) and not any(isinstance(a, ast.Starred)
                                             for a in call.args[:position + 1]):
        return call.args[position]
    return None


class _Module:
    """One parsed module: its functions, and the innermost function around each node."""

    def __init__(self, tree: ast.Module, name: str, forwarded: frozenset[str]) -> None:
        self.name = name
        self.tree = tree
        self.forwarded = forwarded
        self.parent_function: dict[int, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        self._enclose(tree, None)

    def _enclose(self, node: ast.AST,
                 func: ast.FunctionDef | ast.AsyncFunctionDef | None) -> None:
        for child in ast.iter_child_nodes(node):
            if func is not None:
                self.parent_function[id(child)] = func
            inner = child if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else func
            self._enclose(child, inner)

    def where(self, node: ast.AST) -> str:
        return f"{self.name}:{getattr(node, 'lineno', '?')}"

    def resolve(self, expr: ast.expr, depth: int = 0) -> list[str]:
        if depth > MAX_DEPTH:
            raise UnresolvedReasonError(f"{self.where(expr)}: too deep to follow")
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return [expr.value]
        if isinstance(expr, ast.JoinedStr):
            prefix = ""
            for part in expr.values:
                if not (isinstance(part, ast.Constant) and isinstance(part.value, str)):
                    break
                prefix += part.value
            if not prefix:
                raise UnresolvedReasonError(
                    f"{self.where(expr)}: an f-string reason needs a constant class "
                    f"prefix: {ast.unparse(expr)}")
            return [prefix + "*"]
        if isinstance(expr, ast.Attribute) and expr.attr in self.forwarded:
            return []  # e.g. ``exc.reason``: the exception's own sink has its literals
        if isinstance(expr, ast.IfExp):
            return self.resolve(expr.body, depth + 1) + self.resolve(expr.orelse, depth + 1)
        if isinstance(expr, ast.Name):
            func = self.parent_function.get(id(expr))
            if func is not None:
                return self._resolve_name(expr, func, depth)
        raise UnresolvedReasonError(f"{self.where(expr)}: cannot follow the reason "
                                    f"{ast.unparse(expr)!r} back to string literals")

    def _resolve_name(self, name: ast.Name, func: ast.FunctionDef | ast.AsyncFunctionDef,
                      depth: int) -> list[str]:
        params = [a.arg for a in (*func.args.posonlyargs, *func.args.args)]
        kwonly = [a.arg for a in func.args.kwonlyargs]
        if name.id in params or name.id in kwonly:
            return self._from_callers(func, name.id, params, depth)
        values: list[str] = []
        for node in ast.walk(func):
            targets = (node.targets if isinstance(node, ast.Assign)
                       else [node.target] if isinstance(node, ast.AnnAssign) else [])
            value = getattr(node, "value", None)
            if value is not None and any(isinstance(t, ast.Name) and t.id == name.id
                                         for t in targets):
                values += self.resolve(value, depth + 1)
        if not values:
            raise UnresolvedReasonError(f"{self.where(name)}: {name.id!r} is neither a "
                                        "parameter nor assigned a literal")
        return values

    def _from_callers(self, func: ast.FunctionDef | ast.AsyncFunctionDef, param: str,
                      params: list[str], depth: int) -> list[str]:
        is_method = bool(params) and params[0] in ("self", "cls")
        values: list[str] = []
        callers = 0
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.Call) or _callee(node) != func.name:
                continue
            callers += 1
            position = params.index(param) if param in params else len(node.args) + 1
            if is_method and isinstance(node.func, ast.Attribute):
                position -= 1
            arg = _argument(node, position, param)
            if arg is None:
                default = _default_of(func, param)
                if default is None:
                    raise UnresolvedReasonError(f"{self.where(node)}: no {param!r} given")
                arg = default
            values += self.resolve(arg, depth + 1)
        if not callers:
            raise UnresolvedReasonError(f"{self.where(func)}: {func.name}({param}) is "
                                        "never called in its module")
        return values


def _default_of(func: ast.FunctionDef | ast.AsyncFunctionDef, param: str) -> ast.expr | None:
    positional = [*func.args.posonlyargs, *func.args.args]
    defaults = func.args.defaults
    for arg, default in zip(positional[len(positional) - len(defaults):], defaults,
                            strict=True):
        if arg.arg == param:
            return default
    for arg, kw_default in zip(func.args.kwonlyargs, func.args.kw_defaults, strict=True):
        if arg.arg == param:
            return kw_default
    return None


def scan_source(text: str, name: str, sinks: Sinks, *,
                forwarded: frozenset[str] = frozenset()) -> list[Emitted]:
    """The reasons passed to ``sinks`` in one module's source. ``forwarded``: attribute
    names (``exc.reason``) that carry a reason another sink already accounts for."""
    module = _Module(ast.parse(text), name, forwarded)
    found: list[Emitted] = []
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.Call):
            continue
        sink = sinks.get(_callee(node) or "")
        if sink is None:
            continue
        arg = _argument(node, *sink)
        if arg is None:
            raise UnresolvedReasonError(f"{module.where(node)}: no reason argument")
        for reason in module.resolve(arg):
            found.append(Emitted(reason, module.where(node)))
    return found


def scan_tree(sinks: Sinks, *, forwarded: frozenset[str] = frozenset()) -> list[Emitted]:
    """The reasons passed to ``sinks`` anywhere under ``aureond/``."""
    found: list[Emitted] = []
    for path in sorted(SOURCE.rglob("*.py")):
        text = path.read_text()
        if any(f"{sink}(" in text for sink in sinks):
            found += scan_source(text, str(path.relative_to(SOURCE.parent)), sinks,
                                 forwarded=forwarded)
    return found


def unclassified(found: list[Emitted]) -> list[Emitted]:
    label = BoundedLabel(DISCONNECT_REASONS)
    return [e for e in found if label(disconnect_class(e.reason.rstrip("*"))) == OTHER_LABEL]


# --- the node's own reasons -----------------------------------------------------------------

@pytest.fixture(scope="module")
def disconnects() -> list[Emitted]:
    return scan_tree(DISCONNECT_SINKS)


def test_every_disconnect_reason_in_the_code_has_a_label(disconnects: list[Emitted]) -> None:
    missing = unclassified(disconnects)
    assert not missing, (
        "disconnect reasons without a class in aureond.monitoring.prometheus."
        f"DISCONNECT_REASONS (they would count as 'other'): {missing}")


def test_the_scan_sees_the_reasons_of_every_layer(disconnects: list[Emitted]) -> None:
    """The scan is not vacuous: it follows helpers (``_fail``, ``_drop``), locals (the
    driver's read loop) and f-strings, in the handshake, sync, ping, manager, driver,
    node and block-fetch modules."""
    reasons = {e.reason for e in disconnects}
    assert {"handshake-timeout", "self-connection", "low-work-flood", "unconnecting-headers",
            "invalid-headers:*", "protocol-error", "eof", "ping-timeout", "connect-timeout",
            "stale-tip-rotation", "bad-block"} <= reasons
    files = {e.where.split(":")[0] for e in disconnects}
    assert {"aureond/p2p/handshake.py", "aureond/p2p/sync.py", "aureond/p2p/driver.py",
            "aureond/p2p/manager.py", "aureond/state/blockfetch.py"} <= files


def test_every_label_is_a_reason_the_code_gives(disconnects: list[Emitted]) -> None:
    """No dead label values: each class exported at zero is one the node can count."""
    emitted = {disconnect_class(e.reason.rstrip("*")) for e in disconnects}
    assert DISCONNECT_REASONS - emitted == set()


def test_every_header_reject_reason_has_a_label() -> None:
    found = scan_tree(REJECT_SINKS, forwarded=frozenset({"reason"}))
    reasons = {e.reason for e in found}
    assert {"high-hash", "bad-prevblk", "encoding"} <= reasons
    label = BoundedLabel(HEADER_REJECT_REASONS)
    missing = [e for e in found if label(e.reason) == OTHER_LABEL]
    assert not missing, ("header reject reasons without a label in aureond.monitoring."
                         f"prometheus.HEADER_REJECT_REASONS: {missing}")


def test_every_header_rejection_class_is_scanned() -> None:
    """A new subclass of ``HeaderRejectedError`` carries reasons too: it must be a sink."""
    subclasses = {"HeaderRejectedError"}
    grew = True
    trees = [ast.parse(path.read_text()) for path in sorted(SOURCE.rglob("*.py"))]
    while grew:
        grew = False
        for tree in trees:
            for node in ast.walk(tree):
                if (isinstance(node, ast.ClassDef) and node.name not in subclasses
                        and any(isinstance(b, ast.Name) and b.id in subclasses
                                for b in node.bases)):
                    subclasses.add(node.name)
                    grew = True
    assert subclasses <= set(REJECT_SINKS)


# --- the scan itself can fail ----------------------------------------------------------------

NEW_REASON = '''
class Manager:
    def _drop(self, p, reason, now, ban=False):
        return [Disconnect(p.peer, reason, 60 if ban else None)]

    def tick(self, p, now):
        return self._drop(p, "brand-new-reason", now)

    def on_headers(self, p, rule, now):
        return self._drop(p, f"invalid-headers:{rule}", now, ban=True)
'''


def test_a_new_reason_without_a_class_is_caught() -> None:
    found = scan_source(NEW_REASON, "new.py", DISCONNECT_SINKS)
    assert {e.reason for e in found} == {"brand-new-reason", "invalid-headers:*"}
    assert [e.reason for e in unclassified(found)] == ["brand-new-reason"]


@pytest.mark.parametrize("source", [
    "def f(peer, why):\n    return Disconnect(peer, why.tag)\n",
    "def f(peer, x):\n    return Disconnect(peer, f'{x}-timeout')\n",
    "def f(peer):\n    return Disconnect(peer, REASON)\n",
    "def f(peer, reason):\n    return Disconnect(peer, reason)\n",  # never called
])
def test_a_reason_the_scan_cannot_follow_fails_it(source: str) -> None:
    with pytest.raises(UnresolvedReasonError):
        scan_source(source, "opaque.py", DISCONNECT_SINKS)
