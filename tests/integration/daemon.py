"""Run the real ``aureond run`` process for integration tests.

The daemon is started as a subprocess (``python -m aureond run``) on loopback ports,
with JSON logs captured to a file, and stopped by its own PID: SIGTERM first (the test
may check the exit code and the time it took), SIGKILL only if it does not stop.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["DaemonProcess", "free_port", "wait_for"]

_LIMIT_FILES = ("import os, resource, sys; n = int(sys.argv[1]); "
                "resource.setrlimit(resource.RLIMIT_NOFILE, (n, n)); "
                "os.execv(sys.argv[2], sys.argv[2:])")
"""Set the open-file limit (as systemd's ``LimitNOFILE=`` does), then exec the daemon."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(cond: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``cond()`` until it returns a truthy value; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class DaemonProcess:
    """One ``aureond run`` subprocess."""

    def __init__(self, data_dir: Path, *, network: str = "sv-regtest",
                 connect: Sequence[str] = (), http_port: int | None = None,
                 extra_args: Sequence[str] = (), env: Mapping[str, str] | None = None,
                 log_path: Path | None = None, nofile: int | None = None) -> None:
        self.data_dir = data_dir
        self.nofile = nofile
        """The child's open-file limit (``LimitNOFILE=``), or the inherited one."""
        self.network = network
        self.connect = list(connect)
        self.http_port = http_port or free_port()
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.log_path = log_path or data_dir.parent / f"{data_dir.name}-aureond.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "aureond", "run", "--network", self.network,
               "--data-dir", str(self.data_dir), "--http", f"127.0.0.1:{self.http_port}"]
        for peer in self.connect:
            cmd += ["--connect", peer]
        return cmd + self.extra_args

    def start(self, *, wait_ready: bool = True) -> DaemonProcess:
        env = {**os.environ, "AUREOND_LOG__FORMAT": "json", **self.env}
        if "NOTIFY_SOCKET" not in self.env:
            env.pop("NOTIFY_SOCKET", None)
        log = self.log_path.open("ab")
        command = self.command()
        if self.nofile is not None:
            command = [sys.executable, "-c", _LIMIT_FILES, str(self.nofile), *command]
        self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        log.close()
        if wait_ready:
            wait_for(lambda: self.alive() and self.get("/health/live") is not None, 30,
                     "aureond to answer /health/live")
        return self

    def alive(self) -> bool:
        if self.proc is None:
            return False
        if self.proc.poll() is not None:
            raise AssertionError(f"aureond exited with {self.proc.returncode}; log tail:\n"
                                 f"{self.log_tail()}")
        return True

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, Any] | None:
        """(status, parsed JSON or text) or None when the server does not answer."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as resp:
                body = resp.read().decode()
                status = resp.status
        except urllib.error.HTTPError as exc:
            body = exc.read().decode()
            status = exc.code
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body

    def tip_height(self) -> int | None:
        got = self.get("/v1/tip")
        if got is None or got[0] != 200:
            return None
        return int(got[1]["height"])

    def wait_height(self, height: int, timeout: float = 60) -> None:
        wait_for(lambda: self.alive() and (self.tip_height() or -1) >= height, timeout,
                 f"aureond to reach height {height}")

    def log_lines(self) -> list[dict[str, Any]]:
        out = []
        if self.log_path.exists():
            for line in self.log_path.read_text(errors="replace").splitlines():
                with contextlib.suppress(ValueError):
                    out.append(json.loads(line))
        return out

    def log_tail(self, n: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait; returns the exit code (SIGKILL after ``timeout``)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.returncode = self.proc.returncode
        return self.returncode

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.returncode = self.proc.returncode if self.proc else None

    def __enter__(self) -> DaemonProcess:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.terminate()
