"""``aureond run`` following the real node while a scripted hostile peer is connected
too: one whose answers never connect (claiming far more blocks), one that replays what
we have, one that claims more than it has. The real node's chain must win quickly, the
liars' claims must not keep /health behind, and the replayer must not be asked again."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from aureond.chain.params import SV_REGTEST
from aureond.devnet import RegtestNode
from aureond.stress.fakepeer import Behaviour
from tests.integration.daemon import DaemonProcess, wait_for
from tests.integration.fakepeers import PeerThread, served_from

BLOCKS = 3000
#: Far less than the 600 s the stalling peer once cost, and no timeout of ours (60 s)
#: can fire before it: the real node must win on the first unconnecting answer.
SYNC_BOUND = 30.0


def _peer(node: RegtestNode) -> str:
    host, port = node.p2p_addr
    return f"{host}:{port}"


def _health(daemon: DaemonProcess) -> dict[str, object]:
    got = daemon.get("/health")
    assert got is not None
    body: dict[str, object] = got[1]
    return body


def _synced_and_not_behind(daemon: DaemonProcess, height: int) -> bool:
    got = daemon.get("/v1/status")
    if got is None or got[0] != 200:
        return False
    body = got[1]
    return bool(body["tip"]["height"] == height and body["best_peer_height"] == height
                and body["sync"]["state"] == "synced")


@pytest.mark.node_kinds("sv")
def test_a_stalling_sync_peer_does_not_hold_the_initial_sync(
        regtest_node: RegtestNode, tmp_path: Path) -> None:
    regtest_node.generate(BLOCKS)
    with PeerThread(SV_REGTEST, Behaviour.UNCONNECTING, claim=100_000) as staller, \
            DaemonProcess(tmp_path / "aureond",
                          connect=[staller.address, _peer(regtest_node)]) as daemon:
        started = time.monotonic()
        daemon.start()
        daemon.wait_height(BLOCKS, timeout=SYNC_BOUND)
        assert time.monotonic() - started < SYNC_BOUND
        assert staller.peer.getheaders >= 1  # it was asked, and it answered its way
        wait_for(lambda: _synced_and_not_behind(daemon, BLOCKS), 20,
                 "synced with the staller's claim forgotten")
        assert not [line for line in daemon.log_lines() if line.get("event") == "p2p.banned"]
        assert daemon.terminate() == 0


@pytest.mark.node_kinds("sv")
def test_a_replaying_peer_is_not_asked_again(regtest_node: RegtestNode,
                                            tmp_path: Path) -> None:
    regtest_node.generate(BLOCKS)
    with DaemonProcess(tmp_path / "aureond", connect=[_peer(regtest_node)]) as daemon:
        daemon.start()
        daemon.wait_height(BLOCKS, timeout=SYNC_BOUND)
        assert daemon.terminate() == 0
    # Restarted synced, near the tip: every new peer is asked once, the replayer too.
    served = served_from(regtest_node, SV_REGTEST, BLOCKS)
    with PeerThread(SV_REGTEST, Behaviour.REPLAY, chain=served) as replayer, \
            DaemonProcess(tmp_path / "aureond",
                          connect=[_peer(regtest_node), replayer.address]) as daemon:
        daemon.start()
        wait_for(lambda: replayer.peer.getheaders >= 1, 20, "the replayer to be asked")
        time.sleep(5)  # a real node and a real daemon: let a loop show itself if any
        assert replayer.peer.getheaders <= 2, replayer.peer.getheaders
        assert _synced_and_not_behind(daemon, BLOCKS)
        assert daemon.terminate() == 0


@pytest.mark.node_kinds("sv")
def test_a_peer_claiming_more_than_it_has_does_not_keep_health_behind(
        regtest_node: RegtestNode, tmp_path: Path) -> None:
    regtest_node.generate(BLOCKS)
    served = served_from(regtest_node, SV_REGTEST, BLOCKS)
    with PeerThread(SV_REGTEST, Behaviour.HONEST, chain=served, claim=10) as liar, \
            DaemonProcess(tmp_path / "aureond",
                          connect=[_peer(regtest_node), liar.address]) as daemon:
        daemon.start()
        daemon.wait_height(BLOCKS, timeout=SYNC_BOUND)
        wait_for(lambda: _synced_and_not_behind(daemon, BLOCKS), 20,
                 "synced, the claim of ten more blocks forgotten")
        # It reconnects and claims the same again: not believed.
        connections = liar.peer.connections
        liar.drop_connections()
        wait_for(lambda: liar.peer.connections > connections, 60, "the liar to reconnect")
        time.sleep(1)
        assert _synced_and_not_behind(daemon, BLOCKS)
        assert _health(daemon)["status"] == "pass"
        assert daemon.terminate() == 0
