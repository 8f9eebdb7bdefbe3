"""``./scripts/run``: one run per data directory, each step said on stderr.

The script is run as a user runs it (bash, in the repository). It needs the project's
``.venv`` (else it would create one); the test with the real node needs the node.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from aureond.devnet import NodeBinaryError, ensure_node_binaries

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "run"
START_TIMEOUT = 120.0

pytestmark = pytest.mark.skipif(not os.access(ROOT / ".venv" / "bin" / "aureond", os.X_OK),
                                reason="./scripts/run needs the project's .venv")


def _env(demo: Path, http: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AUREOND_") or k == "AUREOND_NODE_BIN"}
    return {**env, "AUREOND_DEMO_DIR": str(demo), "AUREOND_DEMO_HTTP": http}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _run_refused(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the script expecting it to stop at once; whatever it started is killed."""
    process = subprocess.Popen([str(SCRIPT)], env=env, text=True, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = process.communicate(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_a_second_run_is_refused_and_leaves_the_first_alone(tmp_path: Path) -> None:
    """The first run is stood in for by a live process owning the lock (this one)."""
    demo = tmp_path / "demo"
    demo.mkdir()
    ready = '{"p2p": "127.0.0.1:18444"}\n'
    (demo / "node.ready").write_text(ready)
    (demo / "run.pid").write_text(f"{os.getpid()}\n")
    done = _run_refused(_env(demo, "127.0.0.1:1"))
    assert done.returncode == 1
    assert done.stdout == ""
    assert f"already running in {demo} (pid {os.getpid()})" in done.stderr
    assert "AUREOND_DEMO_DIR" in done.stderr
    assert (demo / "node.ready").read_text() == ready
    assert (demo / "run.pid").read_text() == f"{os.getpid()}\n"
    assert sorted(p.name for p in demo.iterdir()) == ["node.ready", "run.pid"]


@contextlib.contextmanager
def _running(demo: Path, http: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen([str(SCRIPT)], env=_env(demo, http), text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        if process.stderr is not None:
            process.stderr.close()


def _wait_ready(demo: Path, http: str, process: subprocess.Popen[str]) -> dict[str, object]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, "the first ./scripts/run exited"
        with contextlib.suppress(OSError, ValueError):
            ready: dict[str, object] = json.loads((demo / "node.ready").read_text())
            with urllib.request.urlopen(f"http://{http}/health/live", timeout=2):
                return ready
        time.sleep(0.2)
    raise AssertionError(f"./scripts/run was not serving within {START_TIMEOUT:.0f} s")


@pytest.mark.regtest
def test_two_real_runs_in_one_directory(tmp_path: Path) -> None:
    try:
        ensure_node_binaries()
    except NodeBinaryError as exc:
        pytest.skip(f"reference node unavailable: {exc}")
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "run.pid").write_text(f"{_dead_pid()}\n")  # left by a run killed with -9
    http = f"127.0.0.1:{_free_port()}"
    with _running(demo, http) as first:
        ready = _wait_ready(demo, http, first)
        assert (demo / "run.pid").read_text() == f"{first.pid}\n"
        second = _run_refused(_env(demo, f"127.0.0.1:{_free_port()}"))
        assert second.returncode == 1
        assert f"already running in {demo} (pid {first.pid})" in second.stderr
        assert json.loads((demo / "node.ready").read_text()) == ready
        with urllib.request.urlopen(f"http://{http}/health/live", timeout=5):
            pass
        first.send_signal(signal.SIGTERM)
        assert first.wait(60) == 143
        assert first.stderr is not None
        said = first.stderr.read()
    steps = [line for line in said.splitlines() if line.startswith(("run: ", "devnet: "))]
    assert steps[:4] == [
        f"run: starting the regtest node with 1,000 blocks (data in {demo}/node)",
        steps[1], "devnet: mining 1,000 blocks (the chain is at 0)",
        f"run: starting aureond (data in {demo}/aureond)"]
    assert steps[1].startswith("devnet: starting the reference node (")
    assert "devnet: stopping the node" in steps
    assert not (demo / "node.ready").exists()
    assert not (demo / "run.pid").exists()
