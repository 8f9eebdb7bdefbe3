"""Reorganisations made by two real nodes, seen by a daemon connected to one of them.

Node A (the daemon's only peer) and node B share a chain; B's networking is switched
off, A mines 2 blocks and B mines 4 on the same parent (to different addresses, so the
branches differ); when they reconnect A switches to B's heavier branch and announces
it, and the daemon must follow: a reorg of depth 2, logged and counted. Then A is told
to invalidate B's branch and falls back to its own, lighter branch; a most-work client
keeps the heavier tip until A's branch really outgrows it. Run against both real nodes
(``node_kind``); afterwards A still has the daemon as a peer and banned nobody.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aureond.devnet import RegtestNode, regtest_address, wait_until
from tests.integration.daemon import DaemonProcess, wait_for
from tests.integration.nodecheck import assert_good_terms
from tests.integration.test_sync_real import get_ok

BASE_BLOCKS = 110
FOLLOW_TIMEOUT = 20.0
OTHER_ADDRESS = regtest_address("the other branch")  # not node A's mining address
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
"""/metrics samples keyed by (sample name, label pairs)."""


def _peer(node: RegtestNode) -> str:
    host, port = node.p2p_addr
    return f"{host}:{port}"


def metric_samples(daemon: DaemonProcess) -> Samples:
    """Every sample of /metrics, keyed by (sample name, labels)."""
    text = get_ok(daemon, "/metrics")
    assert isinstance(text, str), text
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def metric_value(samples: Samples, name: str, **labels: str) -> float:
    """The sample ``name`` with exactly ``labels``; 0 when absent."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def _reorg_events(daemon: DaemonProcess) -> list[dict[str, Any]]:
    return [line for line in daemon.log_lines() if line.get("event") == "chain.reorg"]


def _tip_hash(daemon: DaemonProcess) -> str | None:
    got = daemon.get("/v1/tip")
    return str(got[1]["hash"]) if got is not None and got[0] == 200 else None


def _wait_tip(daemon: DaemonProcess, block_hash: str) -> None:
    wait_for(lambda: daemon.alive() and _tip_hash(daemon) == block_hash, FOLLOW_TIMEOUT,
             f"the daemon's tip to become {block_hash}")


def _split(a: RegtestNode, b: RegtestNode) -> None:
    """Cut B off the network (A keeps serving the daemon)."""
    b.rpc.setnetworkactive(False)
    wait_until(lambda: not a.is_connected_to(b) or None, FOLLOW_TIMEOUT,
               "node A to lose its link to node B")


def _rejoin(a: RegtestNode, b: RegtestNode) -> None:
    b.rpc.setnetworkactive(True)
    wait_until(lambda: b.rpc.getnetworkinfo().get("networkactive") is True, FOLLOW_TIMEOUT,
               "node B's networking to come back")
    a.connect(b)


@pytest.fixture
def followed_pair(node_pair: tuple[RegtestNode, RegtestNode],
                  tmp_path: Path) -> Iterator[tuple[RegtestNode, RegtestNode, DaemonProcess]]:
    """Nodes A and B on one chain of ``BASE_BLOCKS``; a daemon following A only."""
    a, b = node_pair
    a.generate(BASE_BLOCKS)
    wait_until(lambda: b.rpc.getblockcount() == BASE_BLOCKS or None, FOLLOW_TIMEOUT,
               "node B to have the shared chain")
    with DaemonProcess(tmp_path / "aureond", network=a.network,
                       connect=[_peer(a)]) as daemon:
        daemon.start()
        daemon.wait_height(BASE_BLOCKS, timeout=FOLLOW_TIMEOUT)
        yield a, b, daemon


def test_switches_to_the_heavier_branch_with_a_depth_2_reorg(
        followed_pair: tuple[RegtestNode, RegtestNode, DaemonProcess]) -> None:
    a, b, daemon = followed_pair
    fork = a.rpc.getbestblockhash()
    _split(a, b)
    lighter = a.generate(2)
    _wait_tip(daemon, lighter[-1])
    heavier = b.generate(4, OTHER_ADDRESS)
    assert not set(lighter) & set(heavier)
    assert a.rpc.getbestblockhash() == lighter[-1]  # still apart
    _rejoin(a, b)
    assert a.rpc.getbestblockhash() == heavier[-1]

    _wait_tip(daemon, heavier[-1])
    assert get_ok(daemon, "/v1/tip")["height"] == BASE_BLOCKS + 4
    assert get_ok(daemon, f"/v1/headers/{BASE_BLOCKS}")["hash"] == fork
    for height, block_hash in enumerate(heavier, start=BASE_BLOCKS + 1):
        assert get_ok(daemon, f"/v1/headers/{height}")["hash"] == block_hash
    for block_hash in lighter:  # still held, off the best chain
        assert get_ok(daemon, f"/v1/headers/{block_hash}")["on_best_chain"] is False

    reorgs = _reorg_events(daemon)
    assert len(reorgs) == 1, reorgs
    assert reorgs[0]["depth"] == 2
    assert reorgs[0]["fork_height"] == BASE_BLOCKS
    # The node may announce the branch in pieces (3+1): the switch happens at the first
    # header that outweighs our tip.
    assert reorgs[0]["new_height"] in {BASE_BLOCKS + 3, BASE_BLOCKS + 4}
    samples = metric_samples(daemon)
    assert metric_value(samples, "aureond_reorgs_total") == 1
    assert metric_value(samples, "aureond_reorg_depth_count") == 1
    assert metric_value(samples, "aureond_reorg_depth_sum") == 2
    assert metric_value(samples, "aureond_reorg_depth_bucket", le="1.0") == 0
    assert metric_value(samples, "aureond_reorg_depth_bucket", le="2.0") == 1
    assert_good_terms(a, daemon)
    assert daemon.terminate() == 0


def test_invalidateblock_fallback_is_ignored_until_it_outgrows_the_tip(
        followed_pair: tuple[RegtestNode, RegtestNode, DaemonProcess]) -> None:
    a, b, daemon = followed_pair
    _split(a, b)
    own = a.generate(2)
    _wait_tip(daemon, own[-1])
    heavier = b.generate(4, OTHER_ADDRESS)
    _rejoin(a, b)
    _wait_tip(daemon, heavier[-1])
    assert len(_reorg_events(daemon)) == 1

    # A drops B's branch and falls back to its own two blocks: less work than ours.
    a.rpc.invalidateblock(heavier[0])
    assert a.rpc.getbestblockhash() == own[-1]
    # A grows its branch by one (BASE+3 < BASE+4): the daemon learns the header but
    # must keep the heavier tip.
    grown = a.generate(1)
    wait_for(lambda: (daemon.get(f"/v1/headers/{grown[0]}") or (0,))[0] == 200,
             FOLLOW_TIMEOUT, "the daemon to receive the lighter branch's new header")
    side = get_ok(daemon, f"/v1/headers/{grown[0]}")
    assert side["on_best_chain"] is False
    assert side["height"] == BASE_BLOCKS + 3
    assert _tip_hash(daemon) == heavier[-1]
    assert len(_reorg_events(daemon)) == 1

    # Two more and A's branch (BASE+5) outweighs B's (BASE+4): now the daemon moves.
    longer = a.generate(2)
    _wait_tip(daemon, longer[-1])
    reorgs = _reorg_events(daemon)
    assert len(reorgs) == 2, reorgs
    assert reorgs[1]["depth"] == 4
    assert reorgs[1]["fork_height"] == BASE_BLOCKS
    for height, block_hash in enumerate(own + grown + longer, start=BASE_BLOCKS + 1):
        assert get_ok(daemon, f"/v1/headers/{height}")["hash"] == block_hash
    samples = metric_samples(daemon)
    assert metric_value(samples, "aureond_reorgs_total") == 2
    assert metric_value(samples, "aureond_reorg_depth_sum") == 6
    assert_good_terms(a, daemon)
    assert daemon.terminate() == 0
