"""The compact block filter modules stay in the pure chain layer: no I/O, clocks,
randomness or upper layers; numpy is the one dependency they may use."""

from __future__ import annotations

import ast
from pathlib import Path

import aureond.chain

MODULES = ("siphash.py", "golomb.py", "gcs.py", "blockfilter.py")
FORBIDDEN = {"asyncio", "aiohttp", "prometheus_client", "structlog", "pydantic",
             "pydantic_settings", "time", "random", "socket", "os", "io", "logging",
             "uvloop", "threading", "pathlib", "secrets"}
ALLOWED_AUREOND = {"aureond.errors", "aureond.chain"}


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(("." * node.level) + node.module)
    return names


def test_filter_modules_import_only_pure_code() -> None:
    package = Path(aureond.chain.__file__).parent
    for name in MODULES:
        imports = _imports(package / name)
        assert imports, name
        for imported in imports:
            assert not imported.startswith("."), f"{name}: relative import {imported}"
            assert imported.split(".")[0] not in FORBIDDEN, f"{name} imports {imported}"
            if imported.startswith("aureond"):
                pure = imported in ALLOWED_AUREOND or imported.startswith("aureond.chain.")
                assert pure, f"{name} imports {imported}"
