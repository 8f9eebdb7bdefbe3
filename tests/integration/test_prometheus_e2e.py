"""A real Prometheus scrapes the real daemon following the real node, with the shipped
recording and alert rules: the target is up, the header height Prometheus stores is the
node's, and when the only peer goes away AureondNoPeers goes pending, then firing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from aureond.devnet import RegtestNode
from tests.integration.daemon import DaemonProcess, wait_for
from tests.integration.prometheus import (
    ALERT_RULES,
    RECORDING_RULES,
    Alert,
    PrometheusServer,
    find_prometheus,
    shorten_alert_durations,
)

# About Prometheus scraping the daemon: one real node kind is enough.
pytestmark = pytest.mark.node_kinds("sv")

JOB = "aureond"
# The shipped `for:` durations are 2 to 10 minutes. The test copy of alert_rules.yml
# sets every one to this (expressions, labels and annotations stay as shipped): three
# evaluation intervals, so "pending" is seen before "firing", and the test stays short.
TEST_FOR = "3s"
ALERT_TIMEOUT = 60.0


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


@pytest.fixture(scope="module")
def prometheus_binary() -> Path:
    binary = find_prometheus()
    if binary is None:
        message = ("prometheus server not found on PATH nor in the deploy tools directory "
                   "(scripts/check-deploy unpacks it there)")
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return binary


@pytest.fixture
def followed_node(regtest_node: RegtestNode, tmp_path: Path) -> Iterator[DaemonProcess]:
    """The daemon following ``regtest_node``, synced to its 20 blocks."""
    regtest_node.generate(20)
    host, port = regtest_node.p2p_addr
    with DaemonProcess(tmp_path / "aureond", connect=[f"{host}:{port}"]) as daemon:
        daemon.start()
        daemon.wait_height(20)
        yield daemon


def test_test_rule_copy_changes_only_the_for_durations(tmp_path: Path) -> None:
    shipped = ALERT_RULES.read_text().splitlines()
    copy = shorten_alert_durations(ALERT_RULES, tmp_path / "rules.yml", TEST_FOR)
    changed = [(a, b) for a, b in zip(shipped, copy.read_text().splitlines(), strict=True)
               if a != b]
    assert changed, "the shipped rules have no 'for:' to shorten"
    for before, after in changed:
        assert before.strip().startswith("for: "), before
        assert after == before[:before.index("for:")] + f"for: {TEST_FOR}"
    assert sum(line.strip().startswith("for:") for line in shipped) == len(changed)


def _active(prom: PrometheusServer, name: str) -> list[Alert]:
    return [a for a in prom.alerts() if a.name == name]


def _watch_until_firing(prom: PrometheusServer, name: str) -> tuple[list[str], Alert]:
    """Poll the alerts API until ``name`` fires; the states seen, in order, and the alert."""
    states: list[str] = []
    firing: list[Alert] = []

    def fired() -> bool:
        for alert in _active(prom, name):
            if not states or states[-1] != alert.state:
                states.append(alert.state)
            if alert.state == "firing":
                firing.append(alert)
        return bool(firing)

    try:
        wait_for(fired, ALERT_TIMEOUT, f"{name} to fire", interval=0.2)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; states seen: {states}; alerts: {prom.alerts()}") from None
    return states, firing[0]


def test_prometheus_scrapes_daemon_and_alerts_when_the_peer_stops(
        prometheus_binary: Path, regtest_node: RegtestNode, followed_node: DaemonProcess,
        tmp_path: Path) -> None:
    # prometheus_binary comes first: without the server the test skips before any
    # node or daemon is started.
    daemon = followed_node
    instance = f"127.0.0.1:{daemon.http_port}"
    alert_rules = shorten_alert_durations(ALERT_RULES, tmp_path / "alert_rules.yml", TEST_FOR)
    with PrometheusServer(prometheus_binary, tmp_path / "prometheus", targets=[instance],
                          rule_files=[RECORDING_RULES, alert_rules], job=JOB) as prom:
        prom.start()

        # The target is scraped and healthy.
        prom.wait_value(f'up{{job="{JOB}"}}', 1)
        (target,) = prom.active_targets()
        assert target["labels"] == {"job": JOB, "instance": instance}
        assert target["scrapeUrl"] == f"{daemon.url}/metrics"
        assert target["health"] == "up", target.get("lastError")

        # What Prometheus stores is the node's height, and it follows new blocks.
        prom.wait_value("aureond_header_height", regtest_node.rpc.getblockcount())
        regtest_node.generate(3)
        height = regtest_node.rpc.getblockcount()
        assert height == 23
        prom.wait_value(f'aureond_header_height{{job="{JOB}", instance="{instance}"}}',
                        height)
        prom.wait_value("aureond:blocks_behind", 0)

        # With its one peer connected, the node is not alerting about peers.
        prom.wait_value("aureond:peers_connected", 1)
        wait_for(lambda: not _active(prom, "AureondNoPeers"), 20,
                 "AureondNoPeers to be inactive while the peer is connected", interval=0.2)

        regtest_node.stop()

        states, alert = _watch_until_firing(prom, "AureondNoPeers")
        assert states[0] == "pending", states
        assert states[-1] == "firing", states
        assert alert.labels["job"] == JOB
        assert alert.labels["instance"] == instance
        assert alert.labels["severity"] == "critical"
        assert prom.value("aureond:peers_connected") == 0

        # The daemon itself is still up and scraped: only the peer alert fires.
        assert prom.value(f'up{{job="{JOB}"}}') == 1
        assert not _active(prom, "AureondDown")
        daemon.alive()
