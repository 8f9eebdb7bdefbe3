"""Lifecycle of the real ``aureond run`` process: systemd notifications on a real Unix
datagram socket, a bounded clean stop on SIGTERM/SIGINT, and the exit codes of a bad
configuration (3) and of a data directory it cannot use (4)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from aureond.devnet import RegtestNode
from tests.integration.daemon import DaemonProcess, free_port, wait_for

# About the daemon's own lifecycle: one real node kind is enough.
pytestmark = pytest.mark.node_kinds("sv")

EXIT_CONFIG = 3
EXIT_STORE = 4
SHUTDOWN_TIMEOUT = 10.0
"""The default ``shutdown_timeout``: the bound a stop must finish within."""


def _closed_peer() -> str:
    """A loopback address nobody listens on: the daemon dials it and keeps failing."""
    return f"127.0.0.1:{free_port()}"


def _run(args: Sequence[str], env: dict[str, str] | None = None,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``aureond run ...`` for a start that is expected to fail at once."""
    full_env = {**os.environ, "AUREOND_LOG__FORMAT": "json", **(env or {})}
    full_env.pop("AUREOND_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "aureond", "run", *args],
                          capture_output=True, text=True, timeout=20, env=full_env, cwd=cwd,
                          check=False)


def _stop_timed(daemon: DaemonProcess, sig: signal.Signals) -> tuple[int, float]:
    """Send ``sig`` and wait for the exit: (exit code, seconds it took)."""
    assert daemon.proc is not None
    started = time.monotonic()
    daemon.proc.send_signal(sig)
    try:
        code = daemon.proc.wait(SHUTDOWN_TIMEOUT * 2)
    except subprocess.TimeoutExpired:
        daemon.kill9()
        raise AssertionError(f"aureond did not stop on {sig.name}") from None
    return code, time.monotonic() - started


# --- sd_notify ------------------------------------------------------------------------

@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    """A bound Unix datagram socket in a short temporary path (sun_path is ~108 bytes)."""
    directory = tempfile.mkdtemp(prefix="aureond-notify-")
    path = os.path.join(directory, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(path)
        sock.settimeout(0.2)
        yield sock, path
    finally:
        sock.close()
        shutil.rmtree(directory, ignore_errors=True)


def _receive(sock: socket.socket, into: list[str]) -> None:
    """Append every datagram waiting (or arriving within the socket timeout)."""
    while True:
        try:
            into.append(sock.recv(4096).decode())
        except TimeoutError:
            return


def test_notifications_arrive_in_order_and_sigterm_stops_cleanly(
        shared_regtest_node: RegtestNode, notify_socket: tuple[socket.socket, str],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_PID", raising=False)  # the watchdog is for the daemon
    sock, path = notify_socket
    if shared_regtest_node.rpc.getblockcount() < 5:
        shared_regtest_node.generate(5)
    height = shared_regtest_node.rpc.getblockcount()
    host, port = shared_regtest_node.p2p_addr
    messages: list[str] = []
    with DaemonProcess(tmp_path / "aureond", connect=[f"{host}:{port}"],
                       env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"}) as daemon:
        daemon.start()

        def synced_and_watched() -> bool:
            _receive(sock, messages)
            return (sum(m == "WATCHDOG=1" for m in messages) >= 3
                    and f"STATUS=height {height}, 1 peer, synced" in messages)

        wait_for(synced_and_watched, 30, "WATCHDOG=1 three times and a synced STATUS=")
        code, seconds = _stop_timed(daemon, signal.SIGTERM)
        _receive(sock, messages)

    assert code == 0, daemon.log_tail()
    assert seconds < SHUTDOWN_TIMEOUT, f"stopping took {seconds:.1f} s"
    first = messages[0].split("\n")
    assert first[0] == "READY=1", messages[0]
    assert all(field.startswith("STATUS=") for field in first[1:])
    stopping = [i for i, m in enumerate(messages) if m == "STOPPING=1"]
    assert stopping, messages
    middle = messages[1:stopping[0]]
    assert middle
    assert all(m == "WATCHDOG=1" or m.startswith("STATUS=") for m in middle)
    assert all(m == "STOPPING=1" for m in messages[stopping[0]:]), messages
    assert not any("READY=1" in m for m in messages[1:])
    events = [line.get("event") for line in daemon.log_lines()]
    assert events.index("node.ready") < events.index("node.stopping") \
        < events.index("node.stopped")


def test_sigint_stops_cleanly_too(tmp_path: Path) -> None:
    with DaemonProcess(tmp_path / "aureond", connect=[_closed_peer()]) as daemon:
        daemon.start()
        code, seconds = _stop_timed(daemon, signal.SIGINT)
    assert code == 0, daemon.log_tail()
    assert seconds < SHUTDOWN_TIMEOUT
    assert "node.stopped" in [line.get("event") for line in daemon.log_lines()]


# --- configuration errors: exit 3, the key on stderr ------------------------------------

CONFIG_CASES = [
    pytest.param({"toml": '[http]\nlisen = "127.0.0.1:1"\n'}, "http.lisen", id="unknown-key"),
    pytest.param({"toml": "shutdown_timeout = -1\n"}, "shutdown_timeout", id="bad-file-value"),
    pytest.param({"toml": "[p2p\n"}, "config", id="toml-syntax"),
    pytest.param({"env": {"AUREOND_P2P__MAX_OUTBOUND": "0"}}, "p2p.max_outbound",
                 id="bad-env-value"),
    pytest.param({"args": ["--http", "127.0.0.1:http"]}, "http.listen", id="bad-cli-value"),
    pytest.param({"args": ["--network", "nosuchnet"]}, "network", id="unknown-network"),
]


@pytest.mark.parametrize(("case", "key"), CONFIG_CASES)
def test_config_error_exits_3_naming_the_key(case: dict[str, object], key: str,
                                             tmp_path: Path) -> None:
    args = ["--data-dir", str(tmp_path / "data"), "--connect", _closed_peer()]
    if "toml" in case:
        config = tmp_path / "aureond.toml"
        config.write_text(str(case["toml"]))
        args += ["--config", str(config)]
    extra = case.get("args")
    args += list(extra) if isinstance(extra, list) else []
    env = case.get("env")
    result = _run(args, env=env if isinstance(env, dict) else None)
    assert result.returncode == EXIT_CONFIG, result.stdout + result.stderr
    assert result.stderr.startswith(f"aureond: configuration error: {key}: "), result.stderr
    assert not (tmp_path / "data").exists()  # refused before touching the store


def test_a_port_in_use_exits_3_naming_the_key(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = _run(["--network", "sv-regtest", "--data-dir", str(tmp_path / "data"),
                       "--connect", _closed_peer(), "--http", f"127.0.0.1:{port}"])
    assert result.returncode == EXIT_CONFIG, result.stdout + result.stderr
    assert result.stderr.startswith(
        f"aureond: configuration error: http.listen: cannot listen on 127.0.0.1:{port}"), \
        result.stderr


def test_the_systemd_credential_is_read(tmp_path: Path) -> None:
    """An empty ``http-token`` credential is refused: proof the daemon reads it."""
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "http-token").write_text("\n")
    result = _run(["--network", "sv-regtest", "--data-dir", str(tmp_path / "data"),
                   "--connect", _closed_peer(), "--http", f"127.0.0.1:{free_port()}"],
                  env={"CREDENTIALS_DIRECTORY": str(credentials)})
    assert result.returncode == EXIT_CONFIG, result.stdout + result.stderr
    assert result.stderr.startswith("aureond: configuration error: http.token_file: "), \
        result.stderr


# --- a data directory it cannot use: exit 4 --------------------------------------------

@contextlib.contextmanager
def _unwritable(directory: Path) -> Iterator[None]:
    """Make ``directory`` unwritable: mode 0500, or for root (which ignores modes) the
    immutable attribute; skip when neither binds here."""
    directory.mkdir(parents=True)
    directory.chmod(0o500)
    immutable = False
    try:
        if os.geteuid() == 0:
            chattr = shutil.which("chattr")
            done = chattr is not None and subprocess.run(
                [chattr, "+i", str(directory)], capture_output=True, check=False,
                timeout=10).returncode == 0
            if not done:
                pytest.skip("running as root and cannot set the immutable attribute: "
                            "no way to make a directory unwritable here")
            immutable = True
        probe = directory / "probe"
        try:
            probe.touch()
        except OSError:
            pass
        else:
            probe.unlink()
            pytest.skip(f"{directory} stays writable on this file system")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(directory)], check=False, timeout=10)
        directory.chmod(0o700)


def _store_error_logged(result: subprocess.CompletedProcess[str]) -> str:
    """The store error's log line; the same error is also the one line on stderr."""
    assert result.stderr.startswith("aureond: store error: "), result.stderr
    for line in result.stdout.splitlines():
        if '"node.store_error"' in line:
            return line
    raise AssertionError(f"no node.store_error line in:\n{result.stdout}{result.stderr}")


def test_unwritable_data_dir_exits_4(tmp_path: Path) -> None:
    data = tmp_path / "readonly"
    with _unwritable(data):
        result = _run(["--network", "sv-regtest", "--data-dir", str(data), "--connect",
                       _closed_peer(), "--http", f"127.0.0.1:{free_port()}"])
    assert result.returncode == EXIT_STORE, result.stdout + result.stderr
    assert str(data) in _store_error_logged(result)


def test_data_dir_under_a_file_exits_4(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    result = _run(["--network", "sv-regtest", "--data-dir", str(blocker / "aureond"),
                   "--connect", _closed_peer(), "--http", f"127.0.0.1:{free_port()}"])
    assert result.returncode == EXIT_STORE, result.stdout + result.stderr
    assert "data directory" in _store_error_logged(result)


def test_data_dir_of_another_network_exits_4(tmp_path: Path) -> None:
    data = tmp_path / "aureond"
    with DaemonProcess(data, network="sv-regtest", connect=[_closed_peer()]) as daemon:
        daemon.start()
        assert daemon.terminate() == 0
    result = _run(["--network", "regtest", "--data-dir", str(data), "--connect",
                   _closed_peer(), "--http", f"127.0.0.1:{free_port()}"])
    assert result.returncode == EXIT_STORE, result.stdout + result.stderr
    line = _store_error_logged(result)
    assert "holds network 'sv-regtest'" in line
    assert "'regtest'" in line


def test_data_dir_in_use_exits_4(tmp_path: Path) -> None:
    data = tmp_path / "aureond"
    with DaemonProcess(data, connect=[_closed_peer()]) as daemon:
        daemon.start()
        result = _run(["--network", "sv-regtest", "--data-dir", str(data), "--connect",
                       _closed_peer(), "--http", f"127.0.0.1:{free_port()}"])
        assert daemon.alive()
        assert daemon.terminate() == 0
    assert result.returncode == EXIT_STORE, result.stdout + result.stderr
    assert "in use by another process" in _store_error_logged(result)
