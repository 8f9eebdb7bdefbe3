"""The Dockerfile's essentials, read statically (no container engine is needed).

Multi-stage with a pip-wheel builder, a pinned slim Python runtime, a non-root user,
the data volume, the API port, a HEALTHCHECK on /health/live without curl, no ADD of
URLs, and the same config path as the systemd unit.
"""

from __future__ import annotations

import re
import shlex
import tomllib

import pytest

from tests.deploy.parsing import (
    DEPLOY,
    ROOT,
    Instruction,
    Unit,
    dockerfile_instructions,
    dockerignore_includes,
    resolve_from,
)

INSTRUCTIONS = dockerfile_instructions((ROOT / "Dockerfile").read_text())
FINAL = max(i.stage for i in INSTRUCTIONS)
CONFIG = tomllib.loads((ROOT / "config" / "aureond.toml").read_text())
GLOBAL_ARGS = dict(i.args.split("=", 1) for i in INSTRUCTIONS
                   if i.keyword == "ARG" and i.stage == -1 and "=" in i.args)


def _final(keyword: str) -> list[Instruction]:
    return [i for i in INSTRUCTIONS if i.keyword == keyword and i.stage == FINAL]


def test_multi_stage_with_a_wheel_builder() -> None:
    froms = [resolve_from(i, GLOBAL_ARGS) for i in INSTRUCTIONS if i.keyword == "FROM"]
    assert len(froms) >= 2
    builder_stage = next(i.stage for i in INSTRUCTIONS
                         if i.keyword == "RUN" and "pip wheel" in i.args)
    assert builder_stage < FINAL
    assert any(i.keyword == "RUN" and i.stage == FINAL and "from=builder" in i.args
               for i in INSTRUCTIONS) or any(
        i.keyword == "COPY" and i.stage == FINAL and "--from=builder" in i.args
        for i in INSTRUCTIONS)


def test_base_images_are_pinned_slim_python_311() -> None:
    for instruction in INSTRUCTIONS:
        if instruction.keyword != "FROM":
            continue
        image, _ = resolve_from(instruction, GLOBAL_ARGS)
        assert "$" not in image, f"unresolved base {image}"
        name, _, tag = image.partition("@")[0].partition(":")
        assert tag, f"{image} is not pinned"
        assert tag != "latest", f"{image} is not pinned"
        assert name == "python", image
        assert re.match(r"3\.11(\.\d+)?-slim", tag), image


def test_runs_as_a_non_root_user() -> None:
    users = _final("USER")
    assert users, "the final stage sets no USER"
    user = users[-1].args.split(":", 1)[0]
    assert user not in {"root", "0"}
    assert INSTRUCTIONS[-1].stage == FINAL
    after = INSTRUCTIONS[INSTRUCTIONS.index(users[-1]) + 1:]
    assert not [i for i in after if i.keyword == "RUN"], "RUN after USER runs as the user"


def test_no_add_of_urls() -> None:
    for instruction in INSTRUCTIONS:
        if instruction.keyword == "ADD":
            assert not re.search(r"(?:https?|git)://|git@", instruction.args), instruction.args


def test_healthcheck_hits_live_with_urllib() -> None:
    (check,) = _final("HEALTHCHECK")
    assert "CMD" in check.args
    assert "/health/live" in check.args
    assert "urllib.request" in check.args
    assert "curl" not in check.args
    assert "wget" not in check.args
    port = CONFIG["http"]["listen"].rsplit(":", 1)[1]
    assert f"127.0.0.1:{port}/health/live" in check.args
    assert re.search(r"--timeout=\d+s", check.args)


def test_volume_and_port_match_the_config() -> None:
    volumes = " ".join(i.args for i in _final("VOLUME"))
    assert CONFIG["data_dir"] in volumes
    port = CONFIG["http"]["listen"].rsplit(":", 1)[1]
    assert [i.args for i in _final("EXPOSE")] == [port]


def test_entrypoint_runs_the_daemon_with_the_units_config() -> None:
    (entrypoint,) = _final("ENTRYPOINT")
    argv = entrypoint.exec_form()
    assert argv is not None, "ENTRYPOINT must be exec form so SIGTERM reaches the daemon"
    assert argv[:2] == ["aureond", "run"]
    unit = Unit.parse((DEPLOY / "systemd" / "aureond.service").read_text())
    exec_start = shlex.split(unit.last("Service", "ExecStart") or "")
    config_path = exec_start[exec_start.index("--config") + 1]
    assert argv[argv.index("--config") + 1] == config_path
    copies = " ".join(i.args for i in _final("COPY"))
    assert f"config/aureond.toml {config_path}" in copies


def test_stop_signal_is_sigterm() -> None:
    signals = _final("STOPSIGNAL")
    assert not signals or signals[-1].args == "SIGTERM"


PATTERNS = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
            if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("path", ["pyproject.toml", "README.md", "aureond/cli.py",
                                  "aureond/chain/header.py", "config/aureond.toml"])
def test_build_context_has_what_the_wheel_needs(path: str) -> None:
    assert (ROOT / path).exists()
    assert dockerignore_includes(PATTERNS, path)


@pytest.mark.parametrize("path", [".venv/bin/python", ".git/config", "tests/conftest.py",
                                  "aureond/__pycache__/cli.cpython-311.pyc",
                                  ".mypy_cache/x.json", "bench/bench_store.py"])
def test_build_context_leaves_out_local_state(path: str) -> None:
    assert not dockerignore_includes(PATTERNS, path)


def test_readme_the_build_reads_is_in_the_context() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert dockerignore_includes(PATTERNS, project["readme"])
