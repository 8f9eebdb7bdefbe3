"""Peer states reach ``aureond_peers{state}`` under the names the alert rules use."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from aureond.monitoring.prometheus import PEER_STATES, NodeMetrics
from aureond.p2p.manager import ConnState
from aureond.service.daemon import PEER_STATE_LABELS


def test_every_connection_state_has_a_known_label() -> None:
    assert set(PEER_STATE_LABELS) == set(ConnState)
    assert set(PEER_STATE_LABELS.values()) <= set(PEER_STATES)


def test_an_established_peer_counts_as_connected() -> None:
    registry = CollectorRegistry()
    metrics = NodeMetrics(registry, version="0", network="regtest", process_collectors=False)
    counts = {ConnState.CONNECTING: 0, ConnState.HANDSHAKING: 1, ConnState.ESTABLISHED: 2}
    metrics.set_peer_counts({PEER_STATE_LABELS[s]: n for s, n in counts.items()})
    assert registry.get_sample_value("aureond_peers", {"state": "connected"}) == 2
    assert registry.get_sample_value("aureond_peers", {"state": "handshaking"}) == 1
    assert registry.get_sample_value("aureond_peers", {"state": "other"}) in (None, 0)
