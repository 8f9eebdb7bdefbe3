"""A command-line error is said once where a person reads it, and kept whole for scripts.

On a terminal (a real pseudo-terminal holding stdout and stderr, as a shell gives) an
error is one line: readable, or the one JSON line of commands whose output is JSON by
contract (the offline checks, ``--json``). Piped, stdout carries the JSON line for the
script and stderr the readable one for its log.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from aureond.cli import main


def _on_a_terminal(*argv: str, cwd: Path) -> tuple[int, list[str]]:
    """Run ``aureond argv`` with stdout and stderr on one pseudo-terminal."""
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUREOND_")}
    try:
        process = subprocess.Popen([sys.executable, "-m", "aureond", *argv], cwd=cwd,
                                   stdin=subprocess.DEVNULL, stdout=follower,
                                   stderr=follower, env=env)
    finally:
        os.close(follower)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
        code = process.wait(30)
    return code, [line for line in b"".join(chunks).decode().splitlines() if line]


def _bad_config(tmp_path: Path) -> Path:
    path = tmp_path / "aureond.toml"
    path.write_text('[http]\nlistn = "127.0.0.1:8787"\n')
    return path


def test_config_check_on_a_terminal_says_it_once_readably(tmp_path: Path) -> None:
    code, lines = _on_a_terminal("config", "check", "--config", str(_bad_config(tmp_path)),
                                 cwd=tmp_path)
    assert code == 3
    assert len(lines) == 1, lines
    assert lines[0].startswith("aureond: http.listn: unknown key")


def test_an_offline_check_on_a_terminal_prints_its_one_json_line(tmp_path: Path) -> None:
    code, lines = _on_a_terminal("proof", "verify", "--network", "mainnet", "--header",
                                 "00", "00", cwd=tmp_path)
    assert code == 2
    assert len(lines) == 1, lines
    assert json.loads(lines[0]) == {"ok": False, "error": "--header: a header is 80 bytes, "
                                                          "got 1"}


def test_json_output_on_a_terminal_stays_one_json_line(tmp_path: Path) -> None:
    code, lines = _on_a_terminal("status", "--url", "127.0.0.1:1", "--json", cwd=tmp_path)
    assert code == 3
    assert len(lines) == 1, lines
    assert json.loads(lines[0])["ok"] is False


def test_piped_the_script_gets_json_and_its_log_the_readable_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUREOND_CONFIG", raising=False)
    assert main(["config", "check", "--config", str(_bad_config(tmp_path))]) == 3
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert (doc["ok"], doc["key"]) == (False, "http.listn")
    assert err.startswith("aureond: http.listn: unknown key")
    assert main(["proof", "verify", "--network", "mainnet", "--header", "00", "00"]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["ok"] is False
    assert err == "aureond: --header: a header is 80 bytes, got 1\n"

