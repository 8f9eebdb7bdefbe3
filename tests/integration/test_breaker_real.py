"""A peer that goes down and comes back: failover and the per-peer circuit breaker,
against two real nodes.

The daemon follows nodes A and B (two ``--connect``). B is stopped: the daemon keeps
following A, its reconnection attempts to B are refused, and after
``breaker_failures`` of them B's breaker opens. When B is back, the breaker lets a
probe through after ``breaker_open_seconds`` (half open), the probe's handshake closes
it, and both peers are connected again. Small thresholds via ``AUREOND_P2P__*`` keep
this to seconds. Run against both real nodes (``node_kind``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aureond.devnet import RegtestNode, wait_until
from tests.integration.daemon import DaemonProcess, wait_for
from tests.integration.nodecheck import assert_good_terms
from tests.integration.test_reorg_real import Samples, metric_samples, metric_value
from tests.integration.test_sync_real import HTTP_UNLIMITED, get_ok

BASE_BLOCKS = 50
TIMEOUT = 30.0
BREAKER_ENV = {**HTTP_UNLIMITED, "AUREOND_P2P__BREAKER_FAILURES": "2",
               "AUREOND_P2P__BREAKER_OPEN_SECONDS": "2"}
STATE = "aureond_circuit_breaker_state"
TRANSITIONS = "aureond_circuit_breaker_transitions_total"


def _peer(node: RegtestNode) -> str:
    host, port = node.p2p_addr
    return f"{host}:{port}"


def _peers(daemon: DaemonProcess) -> dict[str, dict[str, Any]]:
    return {peer["address"]: peer for peer in get_ok(daemon, "/v1/peers")["peers"]}


def _established(daemon: DaemonProcess) -> set[str]:
    return {a for a, p in _peers(daemon).items() if p["state"] == "established"}


def _breakers_in(samples: Samples, state: str) -> set[str]:
    return {dict(labels)["breaker"] for (name, labels), value in samples.items()
            if name == STATE and dict(labels).get("state") == state and value == 1}


def _transitions(samples: Samples, breaker: str, from_state: str, to_state: str) -> float:
    return metric_value(samples, TRANSITIONS, breaker=breaker, from_state=from_state,
                        to_state=to_state)


def test_breaker_opens_on_a_dead_peer_and_closes_when_it_returns(
        node_pair: tuple[RegtestNode, RegtestNode], tmp_path: Path) -> None:
    a, b = node_pair
    a.generate(BASE_BLOCKS)
    wait_until(lambda: b.rpc.getblockcount() == BASE_BLOCKS or None, TIMEOUT,
               "node B to have the shared chain")
    both = {_peer(a), _peer(b)}
    with DaemonProcess(tmp_path / "aureond", network=a.network,
                       connect=[_peer(a), _peer(b)], env=BREAKER_ENV) as daemon:
        daemon.start()
        daemon.wait_height(BASE_BLOCKS, timeout=TIMEOUT)
        wait_for(lambda: _established(daemon) == both, TIMEOUT, "both peers connected")
        assert _breakers_in(metric_samples(daemon), "open") == set()

        b.stop()
        mined = a.generate(3)
        daemon.wait_height(BASE_BLOCKS + 3, timeout=TIMEOUT)
        assert get_ok(daemon, "/v1/tip")["hash"] == mined[-1]  # A alone keeps it going

        opened = wait_for(lambda: _breakers_in(metric_samples(daemon), "open"), TIMEOUT,
                          "node B's circuit breaker to open")
        assert len(opened) == 1, opened
        breaker = next(iter(opened))
        samples = metric_samples(daemon)
        assert _breakers_in(samples, "closed") != set()  # A's breaker stays closed
        assert _transitions(samples, breaker, "closed", "open") == 1
        refused = [line for line in daemon.log_lines()
                   if line.get("event") == "p2p.connect_failed"]
        assert len(refused) >= 2, refused
        assert all(str(line["peer"]).endswith(_peer(b)) for line in refused)
        peers = _peers(daemon)
        assert peers[_peer(a)]["state"] == "established"
        assert peers[_peer(a)]["breaker"] == "closed"
        assert peers[_peer(b)]["breaker"] in {"open", "half_open"}

        b.restart()
        wait_for(lambda: _established(daemon) == both, TIMEOUT,
                 "node B to be connected again")

        def closed_samples() -> Samples | None:
            samples = metric_samples(daemon)
            return samples if breaker in _breakers_in(samples, "closed") else None

        samples = wait_for(closed_samples, TIMEOUT, f"breaker {breaker} to close")
        assert _transitions(samples, breaker, "open", "half_open") >= 1
        assert _transitions(samples, breaker, "half_open", "closed") == 1
        assert _transitions(samples, breaker, "closed", "open") == 1
        assert _breakers_in(samples, "open") == set()
        assert {p["breaker"] for p in _peers(daemon).values()} == {"closed"}
        assert daemon.tip_height() == BASE_BLOCKS + 3
        assert_good_terms(a, daemon)
        assert_good_terms(b, daemon)
        assert daemon.terminate() == 0
