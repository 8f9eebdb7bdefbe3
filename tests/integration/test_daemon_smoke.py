"""The real daemon follows the real node: the smallest end-to-end check."""

from __future__ import annotations

from pathlib import Path

from aureond.devnet import RegtestNode
from tests.integration.daemon import DaemonProcess, wait_for


def test_daemon_syncs_and_follows(regtest_node: RegtestNode, tmp_path: Path) -> None:
    regtest_node.generate(300)
    host, port = regtest_node.p2p_addr
    with DaemonProcess(tmp_path / "aureond", network=regtest_node.network,
                       connect=[f"{host}:{port}"]) as daemon:
        daemon.start()
        daemon.wait_height(300)
        got = daemon.get("/v1/tip")
        assert got is not None
        assert got[1]["hash"] == regtest_node.rpc.getbestblockhash()
        regtest_node.generate(3)
        daemon.wait_height(303, timeout=20)
        wait_for(lambda: (daemon.get("/health/ready") or (0,))[0] == 200, 20, "ready")
        assert daemon.terminate() == 0
