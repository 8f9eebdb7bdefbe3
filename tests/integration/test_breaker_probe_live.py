"""The breaker tells the truth about a peer that comes back slowly.

The node is the real ``aureond run`` process with one ``--connect`` to a loopback port.
First nothing listens there: dials are refused and, after ``breaker_failures`` of
them, the peer's breaker opens. Then a loopback peer starts on that port and waits
``HANDSHAKE_DELAY`` seconds before answering ``version`` (a slow handshake, longer than
the breaker's former fixed 10-second probe deadline). The half-open probe is that dial;
its deadline covers the connect and the configured handshake timeout, so the probe's
handshake closes the breaker: ``/metrics`` shows open -> half_open -> closed and
``/v1/peers`` ends ``closed`` with the peer established.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from aureond.chain.params import SV_REGTEST
from aureond.stress.fakepeer import Behaviour
from tests.integration.daemon import DaemonProcess, free_port, wait_for
from tests.integration.fakepeers import PeerThread

HANDSHAKE_DELAY = 12.0
ENV = {"AUREOND_HTTP__RATE_PER_SECOND": "100000", "AUREOND_HTTP__RATE_BURST": "100000",
       "AUREOND_HTTP__MONITORING_RATE_PER_SECOND": "100000",
       "AUREOND_HTTP__MONITORING_RATE_BURST": "100000",
       "AUREOND_P2P__BREAKER_FAILURES": "2", "AUREOND_P2P__BREAKER_OPEN_SECONDS": "2",
       "AUREOND_P2P__CONNECT_TIMEOUT": "2", "AUREOND_P2P__HANDSHAKE_TIMEOUT": "20"}
TRANSITIONS = "aureond_circuit_breaker_transitions_total"


def _transitions(daemon: DaemonProcess) -> dict[tuple[str, str], float]:
    got = daemon.get("/metrics")
    assert got is not None, f"no answer from {daemon.url}"
    out: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(got[1]):
        for sample in family.samples:
            if sample.name == TRANSITIONS:
                key = (sample.labels["from_state"], sample.labels["to_state"])
                out[key] = out.get(key, 0.0) + sample.value
    return out


def _state_gauge(daemon: DaemonProcess) -> str | None:
    got = daemon.get("/metrics")
    assert got is not None, f"no answer from {daemon.url}"
    for family in text_string_to_metric_families(got[1]):
        for sample in family.samples:
            if sample.name == "aureond_circuit_breaker_state" and sample.value == 1:
                return str(sample.labels["state"])
    return None


def _peer(daemon: DaemonProcess, address: str) -> dict[str, Any]:
    got = daemon.get("/v1/peers")
    assert got is not None, f"no answer from {daemon.url}"
    return dict(next(p for p in got[1]["peers"] if p["address"] == address))


def test_a_probe_with_a_slow_handshake_closes_the_breaker(tmp_path: Path) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    with DaemonProcess(tmp_path / "aureond", connect=[address], env=ENV) as daemon:
        daemon.start()
        wait_for(lambda: _transitions(daemon).get(("closed", "open")), 30,
                 "the refused peer's breaker to open")
        peer = PeerThread(SV_REGTEST, Behaviour.HONEST)
        peer.peer.bind_port = port
        peer.peer.version_delay = HANDSHAKE_DELAY
        with peer:
            # The probe that reaches the peer waits HANDSHAKE_DELAY for its version.
            wait_for(lambda: peer.peer.connections, 15, "a probe to reach the peer")
            reached = time.monotonic()
            wait_for(lambda: _transitions(daemon).get(("half_open", "closed")),
                     HANDSHAKE_DELAY + 10, "the probe's handshake to close the breaker")
            assert time.monotonic() - reached >= HANDSHAKE_DELAY - 1.0
            seen = _transitions(daemon)
            assert seen.get(("open", "half_open"), 0) >= 1, seen
            final = _peer(daemon, address)
            assert final["breaker"] == "closed", final
            assert final["state"] == "established", final
            assert final["recovery"] is None, final
            assert _state_gauge(daemon) == "closed"
