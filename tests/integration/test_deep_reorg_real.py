"""A heavier chain from genesis, longer than the in-memory window, between two real
nodes: the daemon follows node A; node B, cut off, mines a longer chain from genesis;
when they connect, A switches and the daemon must follow it all the way down."""

from __future__ import annotations

from pathlib import Path

import pytest

from aureond.devnet import RegtestNode, regtest_address, wait_until
from tests.integration.daemon import DaemonProcess, wait_for
from tests.integration.test_reorg_real import _peer, metric_samples, metric_value
from tests.integration.test_sync_real import get_ok

WINDOW = 2027
A_BLOCKS = 3000  # more than the window and its prune slack behind A's tip
B_BLOCKS = 3600
OTHER_ADDRESS = regtest_address("the heavier chain")


@pytest.mark.node_kinds("sv")
def test_a_heavier_chain_forking_below_the_window_is_followed(
        node_pair: tuple[RegtestNode, RegtestNode], tmp_path: Path) -> None:
    a, b = node_pair
    b.rpc.setnetworkactive(False)
    wait_until(lambda: not a.is_connected_to(b) or None, 30, "node A to lose node B")
    a.generate(A_BLOCKS)
    env = {"AUREOND_STORE__MEMORY_WINDOW": str(WINDOW)}
    with DaemonProcess(tmp_path / "aureond", connect=[_peer(a)], env=env) as daemon:
        daemon.start()
        daemon.wait_height(A_BLOCKS, timeout=60)
        heavier = b.generate(B_BLOCKS, OTHER_ADDRESS)
        b.rpc.setnetworkactive(True)
        wait_until(lambda: b.rpc.getnetworkinfo().get("networkactive") is True, 30,
                   "node B's networking to come back")
        a.connect(b, timeout=120)
        wait_until(lambda: a.rpc.getbestblockhash() == heavier[-1] or None, 120,
                   "node A to switch to B's chain")

        wait_for(lambda: daemon.alive() and (daemon.get("/v1/tip") or (0, {}))[1].get(
            "hash") == heavier[-1], 120, "the daemon to follow the heavier chain")
        assert get_ok(daemon, "/v1/tip")["height"] == B_BLOCKS
        for height in (1, 100, A_BLOCKS, B_BLOCKS):
            assert get_ok(daemon, f"/v1/headers/{height}")["hash"] == heavier[height - 1]
        reorgs = [line for line in daemon.log_lines() if line.get("event") == "chain.reorg"]
        assert len(reorgs) == 1, reorgs
        assert (reorgs[0]["depth"], reorgs[0]["fork_height"]) == (A_BLOCKS, 0)
        samples = metric_samples(daemon)
        assert metric_value(samples, "aureond_reorgs_total") == 1
        assert metric_value(samples, "aureond_reorg_depth_sum") == A_BLOCKS
        # A found nothing to punish and the daemon banned no one.
        assert not [line for line in daemon.log_lines()
                    if line.get("event") in {"p2p.banned", "p2p.misbehaved"}]
        assert daemon.terminate() == 0
    assert not list((tmp_path / "aureond" / "headers").glob("fork-*.dat"))
