"""Connection recovery in the running node: the connect retry loop and the recovery
context of a dead peer, seen from outside.

The node is the real ``aureond run`` process with one ``--connect`` to a loopback port
that nothing listens on: every TCP connect is refused. Each dial runs its connect
through the retry loop, so ``aureond_retries_total{operation="connect",
error_type="temporary"}`` rises on ``/metrics``; every refused attempt lands in the
peer's ``recovery`` in ``/v1/peers``, and ``aureond status`` names the failing peer. The breaker is kept from opening (a high
threshold) so the dials go on for the whole test.
"""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.daemon import DaemonProcess, free_port, wait_for

TIMEOUT = 30.0
ENV = {"AUREOND_HTTP__RATE_PER_SECOND": "100000", "AUREOND_HTTP__RATE_BURST": "100000",
       "AUREOND_HTTP__MONITORING_RATE_PER_SECOND": "100000",
       "AUREOND_HTTP__MONITORING_RATE_BURST": "100000",
       "AUREOND_P2P__BREAKER_FAILURES": "1000"}


def _retries(daemon: DaemonProcess, operation: str, error_type: str) -> float:
    got = daemon.get("/metrics")
    assert got is not None, f"no answer from {daemon.url}"
    assert got[0] == 200, got
    for family in text_string_to_metric_families(got[1]):
        for sample in family.samples:
            if (sample.name == "aureond_retries_total"
                    and sample.labels == {"operation": operation, "error_type": error_type}):
                return float(sample.value)
    return 0.0


def _peer(daemon: DaemonProcess, address: str) -> dict[str, Any]:
    got = daemon.get("/v1/peers")
    assert got is not None, f"no answer from {daemon.url}"
    assert got[0] == 200, got
    found = [p for p in got[1]["peers"] if p["address"] == address]
    assert found, got[1]
    return dict(found[0])


def _closed_port() -> str:
    return f"127.0.0.1:{free_port()}"  # bound and released at once: nothing listens


def test_refused_connects_go_through_the_retry_loop(tmp_path: Path) -> None:
    dead = _closed_port()
    with DaemonProcess(tmp_path / "aureond", connect=[dead], env=ENV) as daemon:
        daemon.start()
        first = wait_for(lambda: _retries(daemon, "connect", "temporary"), TIMEOUT,
                         "a connect retry on /metrics")
        wait_for(lambda: _retries(daemon, "connect", "temporary") > first, TIMEOUT,
                 f"connect retries to rise above {first}")
        # A refusal is temporary; nothing else was retried.
        assert _retries(daemon, "connect", "timeout") == 0
        assert _retries(daemon, "connect", "permanent") == 0


def test_a_dead_peer_shows_its_failed_attempts(tmp_path: Path) -> None:
    dead = _closed_port()
    with DaemonProcess(tmp_path / "aureond", connect=[dead], env=ENV) as daemon:
        daemon.start()
        peer = wait_for(lambda: (p := _peer(daemon, dead))["recovery"] is not None
                        and p["recovery"]["attempts"] >= 4 and p, TIMEOUT,
                        "the dead peer's recovery to count 4 attempts")
        recovery = peer["recovery"]
        errors = recovery["errors"]
        # Every attempt failed, and the last ten failures are kept.
        assert len(errors) == min(recovery["attempts"], 10)
        for error in errors:
            assert error["class"] == "temporary"
            assert error["type"] == "ConnectionRefusedError"
            assert error["message"]
            at = datetime.datetime.fromisoformat(error["at"].replace("Z", "+00:00"))
            age = datetime.datetime.now(datetime.UTC) - at
            assert datetime.timedelta(0) <= age < datetime.timedelta(seconds=TIMEOUT + 30)
        stamps = [e["at"] for e in errors]
        assert stamps == sorted(stamps)
        assert peer["state"] in {"idle", "connecting"}
        # The operator's report names the failing peer and its last error.
        report = subprocess.run([sys.executable, "-m", "aureond", "status", "--url",
                                 daemon.url], capture_output=True, text=True, timeout=30,
                                check=False)
        line = next((x for x in report.stdout.splitlines() if x.strip().startswith(dead)),
                    None)
        assert line is not None, report.stdout + report.stderr
        assert "attempts, last temporary ConnectionRefusedError" in line, line
