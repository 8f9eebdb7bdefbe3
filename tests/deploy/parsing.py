"""Small readers for the deployment files, enough to check them without extra packages.

The project's test environment has no YAML parser, so the rule files are read with the
line-based helpers below; they understand the layout of the files in ``deploy/`` (one
``- alert:``/``- record:`` item per rule), not YAML in general. promtool checks the
real syntax (``scripts/check-deploy``).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

__all__ = [
    "DEPLOY",
    "ROOT",
    "AlertCase",
    "Instruction",
    "Unit",
    "alert_blocks",
    "alert_test_cases",
    "dashboard_exprs",
    "dockerfile_instructions",
    "dockerignore_includes",
    "load_json",
    "markdown_anchors",
    "promql_metric_names",
    "recorded_names",
    "resolve_from",
    "rule_exprs",
]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

_PROMQL_KEYWORDS = frozenset({
    "and", "or", "unless", "bool", "by", "without", "on", "ignoring", "group_left",
    "group_right", "offset", "inf", "nan",
})
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_OFFSET = re.compile(r"\boffset\s+-?[\w$]+")
_IDENT = re.compile(r"(?<![\w.$])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")


def promql_metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions and keywords left out).

    Label matchers, strings, ranges, grouping clauses and ``offset`` are removed first,
    so label names and Grafana variables (``$__rate_interval``) are never taken for
    metrics.
    """
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _OFFSET.sub(" ", text)
    names: set[str] = set()
    for match in _IDENT.finditer(text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in _PROMQL_KEYWORDS:
            continue
        names.add(name)
    return names


def dashboard_exprs(dashboard: dict[str, object]) -> list[tuple[str, str]]:
    """``(panel title, expr)`` for every query target, rows' nested panels included."""
    found: list[tuple[str, str]] = []

    def walk(panels: object) -> None:
        if not isinstance(panels, list):
            return
        for panel in panels:
            if not isinstance(panel, dict):
                continue
            for target in panel.get("targets", []):
                if isinstance(target, dict) and "expr" in target:
                    found.append((str(panel.get("title", "")), str(target["expr"])))
            walk(panel.get("panels"))

    walk(dashboard.get("panels"))
    return found


def load_json(path: Path) -> dict[str, object]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise TypeError(f"{path}: expected a JSON object")
    return data


# -- Prometheus rule files ----------------------------------------------------------
def _items(text: str, key: str) -> dict[str, str]:
    """Each ``- <key>: NAME`` item with the text up to the next rule item."""
    starts = list(re.finditer(rf"^\s*- (?:{key}|alert|record):\s*(\S+)\s*$", text, re.M))
    items: dict[str, str] = {}
    for index, match in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
        if re.match(rf"^\s*- {key}:", match.group(0)):
            items.setdefault(match.group(1), "")
            items[match.group(1)] += text[match.start():end]
    return items


def alert_blocks(text: str) -> dict[str, str]:
    """Alert name -> the text of its rule item."""
    return _items(text, "alert")


def rule_exprs(text: str) -> list[str]:
    """Every ``expr:`` of a rule file, single-line or a ``|``/``>`` block, joined."""
    exprs: list[str] = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"^(\s*)expr:\s*(.*)$", line)
        if not match:
            continue
        indent, value = len(match.group(1)), match.group(2)
        if value in {"|", ">", "|-", ">-"}:
            body = []
            for follow in lines[index + 1:]:
                if follow.strip() and len(follow) - len(follow.lstrip()) <= indent:
                    break
                body.append(follow.strip())
            value = " ".join(part for part in body if part)
        exprs.append(value)
    return exprs


def recorded_names(text: str) -> set[str]:
    """The series names a recording-rule file defines."""
    return set(_items(text, "record"))


@dataclass(frozen=True, slots=True)
class AlertCase:
    """One ``alert_rule_test`` entry of a promtool test file."""

    alertname: str
    eval_time: str
    fires: bool


def alert_test_cases(text: str) -> list[AlertCase]:
    """The alert test entries of a promtool test file, firing or expecting none."""
    cases: list[AlertCase] = []
    eval_time = ""
    alertname = ""
    for line in text.splitlines():
        stripped = line.split("#", 1)[0].strip()
        if stripped.startswith("- eval_time:"):
            eval_time = stripped.split(":", 1)[1].strip()
        elif stripped.startswith("alertname:"):
            alertname = stripped.split(":", 1)[1].strip()
        elif stripped.startswith("exp_alerts:"):
            empty = stripped.split(":", 1)[1].strip() == "[]"
            cases.append(AlertCase(alertname, eval_time, fires=not empty))
    return cases


def markdown_anchors(text: str) -> set[str]:
    """GitHub-style anchors of a Markdown file's headings."""
    anchors: set[str] = set()
    for match in re.finditer(r"^#{1,6}\s+(.+?)\s*$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", match.group(1).lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


# -- systemd units ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Unit:
    """A unit file as ``(section, key, value)`` entries, in order (keys may repeat)."""

    entries: tuple[tuple[str, str, str], ...]

    @classmethod
    def parse(cls, text: str) -> Unit:
        entries: list[tuple[str, str, str]] = []
        section = ""
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                continue
            key, sep, value = line.partition("=")
            if not sep:
                raise ValueError(f"not a key=value line: {raw!r}")
            entries.append((section, key.strip(), value.strip()))
        return cls(tuple(entries))

    def values(self, section: str, key: str) -> list[str]:
        return [v for s, k, v in self.entries if s == section and k == key]

    def last(self, section: str, key: str) -> str | None:
        found = self.values(section, key)
        return found[-1] if found else None


# -- Dockerfile ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Instruction:
    """One Dockerfile instruction; ``stage`` counts FROMs (-1 before the first)."""

    keyword: str
    args: str
    stage: int

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form instruction, else None."""
        if not self.args.startswith("["):
            return None
        value = json.loads(self.args)
        return [str(v) for v in value] if isinstance(value, list) else None


def dockerfile_instructions(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped."""
    logical: list[str] = []
    buffer = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if not buffer and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buffer and line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        logical.append(buffer + line)
        buffer = ""
    if buffer:
        logical.append(buffer)
    instructions: list[Instruction] = []
    stage = -1
    for line in logical:
        keyword, _, args = line.strip().partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, " ".join(args.split()), stage))
    return instructions


def resolve_from(instruction: Instruction, global_args: dict[str, str]) -> tuple[str, str]:
    """``(image, stage name)`` of a FROM, with global ARG defaults substituted."""
    words = [w for w in shlex.split(instruction.args) if not w.startswith("--")]
    image = re.sub(r"\$\{?(\w+)\}?", lambda m: global_args.get(m.group(1), m.group(0)),
                   words[0])
    name = words[2] if len(words) >= 3 and words[1].lower() == "as" else ""
    return image, name


def dockerignore_includes(patterns: list[str], path: str) -> bool:
    """Whether ``path`` reaches the build context (the last matching pattern wins)."""
    included = True
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        body = body.strip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        matched = any(fnmatchcase(prefix, body) or
                      (body.startswith("**/") and
                       any(fnmatchcase(part, body[3:]) for part in prefix.split("/")))
                      for prefix in prefixes)
        if matched:
            included = negate
    return included
