"""Run a real Prometheus server on loopback against the shipped rules.

The server scrapes the given targets every second and evaluates the rule files every
second; its config, TSDB and log live in a working directory the caller owns. It is
started in its own session and stopped by its PID: SIGTERM, then SIGKILL if it does not
stop. Its HTTP API is read with the standard library only.

The binary is looked up on ``PATH``, then where ``scripts/check-deploy`` unpacks
Debian's ``prometheus`` package (the same package carries promtool and the server).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from tests.integration.daemon import free_port, wait_for

__all__ = [
    "ALERT_RULES",
    "RECORDING_RULES",
    "Alert",
    "PrometheusServer",
    "find_prometheus",
    "shorten_alert_durations",
]

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
ALERT_RULES = DEPLOY_DIR / "alert_rules.yml"
RECORDING_RULES = DEPLOY_DIR / "recording_rules.yml"

_START_ATTEMPTS = 3
_FOR_LINE = re.compile(r"^(?P<indent>[ \t]+)for:[ \t]*(?P<value>\S+)[ \t]*$", re.MULTILINE)


def tools_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where ``scripts/check-deploy`` keeps the tools it fetches."""
    env = os.environ if env is None else env
    if env.get("AUREOND_TOOLS_DIR"):
        return Path(env["AUREOND_TOOLS_DIR"])
    cache = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "aureond-deploy-tools"


def find_prometheus(env: Mapping[str, str] | None = None) -> Path | None:
    """The Prometheus server binary: on PATH, else unpacked in the tools directory."""
    env = os.environ if env is None else env
    on_path = shutil.which("prometheus", path=env.get("PATH"))
    if on_path is not None:
        return Path(on_path)
    unpacked = tools_dir(env) / "prometheus" / "usr" / "bin" / "prometheus"
    return unpacked if os.access(unpacked, os.X_OK) else None


def shorten_alert_durations(source: Path, dest: Path, duration: str) -> Path:
    """Copy an alert rule file with every ``for:`` set to ``duration``.

    Only the ``for:`` lines change, textually, so every expression, label and
    annotation stays byte-for-byte as shipped. Rules without ``for:`` fire on the
    first evaluation, as shipped.
    """
    text = source.read_text()
    shortened, count = _FOR_LINE.subn(rf"\g<indent>for: {duration}", text)
    if count == 0:
        raise ValueError(f"{source} has no 'for:' line to shorten")
    dest.write_text(shortened)
    return dest


@dataclass(frozen=True, slots=True)
class Alert:
    """One active alert as /api/v1/alerts reports it."""

    name: str
    state: str  # "pending" or "firing"
    labels: Mapping[str, str]

    @classmethod
    def from_api(cls, doc: Mapping[str, Any]) -> Alert:
        labels = {str(k): str(v) for k, v in doc["labels"].items()}
        return cls(name=labels.get("alertname", ""), state=str(doc["state"]), labels=labels)


class PrometheusServer:
    """One ``prometheus`` process scraping ``targets`` under job ``job``."""

    def __init__(self, binary: Path, workdir: Path, *, targets: Sequence[str],
                 rule_files: Sequence[Path] = (), job: str = "aureond",
                 interval: str = "1s") -> None:
        self.binary = binary
        self.workdir = workdir
        self.targets = list(targets)
        self.rule_files = [Path(p).resolve() for p in rule_files]
        self.job = job
        self.interval = interval
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.workdir / "prometheus.yml"

    @property
    def log_path(self) -> Path:
        return self.workdir / "prometheus.log"

    def write_config(self) -> Path:
        # JSON is YAML: no YAML library is needed to write the config.
        config = {
            "global": {"scrape_interval": self.interval, "scrape_timeout": self.interval,
                       "evaluation_interval": self.interval},
            "rule_files": [str(p) for p in self.rule_files],
            "scrape_configs": [{
                "job_name": self.job,
                "metrics_path": "/metrics",
                "static_configs": [{"targets": self.targets}],
            }],
        }
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(config, indent=2) + "\n")
        return self.config_path

    def command(self) -> list[str]:
        return [str(self.binary), f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=info"]

    # --- lifecycle ---------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> Self:
        """Start and wait for /-/ready; a port lost to a race is retried."""
        if self.proc is not None:
            raise RuntimeError(f"prometheus already started (pid {self.proc.pid})")
        self.write_config()
        attempt = 1
        while True:
            self.port = free_port()
            with self.log_path.open("wb") as log:  # one attempt's log at a time
                self.proc = subprocess.Popen(self.command(), stdout=log,
                                             stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL,
                                             start_new_session=True)
            try:
                wait_for(self._ready, timeout, "prometheus to answer /-/ready")
            except _ExitedError:
                if "address already in use" in self.log_tail() and attempt < _START_ATTEMPTS:
                    attempt += 1
                    self.proc = None
                    continue
                raise AssertionError(f"prometheus exited with {self._returncode()}; "
                                     f"log tail:\n{self.log_tail()}") from None
            except BaseException:
                self.stop()
                raise
            return self

    def _returncode(self) -> int | None:
        return self.proc.returncode if self.proc is not None else None

    def _ready(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise _ExitedError
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=2.0) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM by PID and wait; SIGKILL after ``timeout``. Returns the exit code."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5.0)
        return proc.returncode

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def log_tail(self, n: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    # --- HTTP API ----------------------------------------------------------------------

    def api(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """The ``data`` of a successful API answer; AssertionError on anything else."""
        url = f"{self.url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=5.0) as resp:
                doc = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"GET {url}: HTTP {exc.code}: {exc.read()!r}") from exc
        if doc.get("status") != "success":
            raise AssertionError(f"GET {url}: {doc!r}")
        return doc["data"]

    def query(self, expr: str) -> list[tuple[dict[str, str], float]]:
        """Evaluate an instant-vector expression now: (labels, value) per series."""
        data = self.api("query", {"query": expr})
        if data["resultType"] != "vector":
            raise AssertionError(f"{expr!r} gave a {data['resultType']}, not a vector")
        return [({str(k): str(v) for k, v in s["metric"].items()}, float(s["value"][1]))
                for s in data["result"]]

    def value(self, expr: str) -> float | None:
        """The value of a one-series expression; None while it has no series."""
        result = self.query(expr)
        if len(result) > 1:
            raise AssertionError(f"{expr!r} gave {len(result)} series: {result!r}")
        return result[0][1] if result else None

    def active_targets(self) -> list[dict[str, Any]]:
        return list(self.api("targets", {"state": "active"})["activeTargets"])

    def alerts(self) -> list[Alert]:
        return [Alert.from_api(a) for a in self.api("alerts")["alerts"]]

    def wait_value(self, expr: str, expected: float, timeout: float = 20.0) -> None:
        """Poll until ``expr`` has exactly one series equal to ``expected``."""
        seen: list[float | None] = [None]

        def equal() -> bool:
            seen[0] = self.value(expr)
            return seen[0] == expected

        try:
            wait_for(equal, timeout, f"Prometheus to see {expr} == {expected}", interval=0.2)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last value: {seen[0]}") from None


class _ExitedError(Exception):
    """The server process ended while we waited for it."""
