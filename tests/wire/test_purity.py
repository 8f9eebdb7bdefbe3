"""The wire package stays pure: no I/O, clocks, randomness or upper layers."""

from __future__ import annotations

import ast
from pathlib import Path

import aureond.wire

FORBIDDEN = {"asyncio", "aiohttp", "prometheus_client", "structlog", "pydantic",
             "pydantic_settings", "time", "random", "socket", "os", "io", "logging",
             "uvloop", "threading"}
ALLOWED_AUREOND = ("aureond.errors", "aureond.chain.hashing", "aureond.chain.header",
                   "aureond.wire")


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return names


def test_wire_imports_only_pure_modules() -> None:
    package = Path(aureond.wire.__file__).parent
    files = sorted(package.glob("*.py"))
    assert len(files) > 5
    for path in files:
        for name in _imports(path):
            assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
            if name.startswith("aureond"):
                assert name.startswith(ALLOWED_AUREOND), f"{path.name} imports {name}"
