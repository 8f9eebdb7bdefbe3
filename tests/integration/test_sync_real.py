"""Header sync against each real full node: a long chain (20,000 headers from the SV
node, 4,500 scrypt headers across MWEB activation from Litecoin Core), new blocks,
and a node that goes away in the middle of the download and comes back.

The chain is mined once per test session and node kind (``chain_template``) and each
module that needs it starts a node on a copy of that datadir; every test runs its own
daemon with a fresh data dir. Equality with the node is checked hash by hash: the tip,
the chain work, and the raw 80-byte header at a spread of heights (both ends of every
2,000-header batch and a seeded random sample). Afterwards the node still has the
daemon as a peer, has banned nobody, and the daemon logged no protocol error.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aureond.devnet import NodeBinaries, NodeKind, RegtestNode
from tests.integration.daemon import DaemonProcess, wait_for
from tests.integration.nodecheck import assert_good_terms

CHAIN_LENGTH = 20_000
CHAIN_LENGTHS = {"sv": CHAIN_LENGTH, "litecoin": 4_500}
"""Blocks in the session's chain, by node kind: Litecoin Core mines ~250 blocks/s
and each header costs a scrypt hash to validate, so its chain is shorter; it still
spans MWEB activation (432) and several 2,000-header messages."""
MINE_BATCH = 2_000
BATCH = 2_000  # headers per ``headers`` message
SYNC_TIMEOUT = 90.0
FOLLOW_TIMEOUT = 15.0
RANDOM_SPOT_CHECKS = 150
# Two messages a second from the daemon: one ``getheaders`` per half second, so the
# 20,000-header download takes several seconds and the node can be stopped inside it.
# The spot checks read hundreds of headers: lift the per-client HTTP rate limit.
HTTP_UNLIMITED = {"AUREOND_HTTP__RATE_PER_SECOND": "100000",
                  "AUREOND_HTTP__RATE_BURST": "100000",
                  "AUREOND_HTTP__MONITORING_RATE_PER_SECOND": "100000",
                  "AUREOND_HTTP__MONITORING_RATE_BURST": "100000"}
THROTTLED = {**HTTP_UNLIMITED, "AUREOND_P2P__MESSAGES_PER_SECOND": "2",
             "AUREOND_P2P__BREAKER_OPEN_SECONDS": "1"}


def chain_length(kind: NodeKind) -> int:
    return CHAIN_LENGTHS[kind.name]


def chain_template(binaries: NodeBinaries, factory: pytest.TempPathFactory) -> Path:
    """A stopped node's datadir holding ``chain_length`` blocks, mined once a session.

    Mining 20,000 SV blocks takes 10-25 s on a busy 2-core machine, 4,500 Litecoin
    blocks about 20 s; copying the datadir takes a fraction of a second.
    """
    length = chain_length(binaries.kind)
    template = factory.getbasetemp() / f"chain-template-{binaries.kind.name}-{length}"
    if template.is_dir():
        return template
    building = template.with_name(template.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    with RegtestNode(binaries, building) as node:
        while (count := node.rpc.getblockcount()) < length:
            node.generate(min(MINE_BATCH, length - count))
    building.rename(template)  # only a complete chain becomes the template
    return template


def start_chain_node(binaries: NodeBinaries, factory: pytest.TempPathFactory,
                     datadir: Path) -> RegtestNode:
    """A started node on a copy of the session's chain of ``chain_length`` blocks."""
    shutil.copytree(chain_template(binaries, factory), datadir)
    node = RegtestNode(binaries, datadir).start()
    if node.rpc.getblockcount() != chain_length(binaries.kind):
        node.close()
        raise AssertionError("the copied chain does not hold "
                             f"{chain_length(binaries.kind)} blocks")
    return node


@pytest.fixture(scope="module")
def chain_node(node_binaries: NodeBinaries,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegtestNode]:
    """The module's node with ``CHAIN_LENGTH`` blocks on top of genesis."""
    node = start_chain_node(node_binaries, tmp_path_factory,
                            tmp_path_factory.mktemp("sync") / "node")
    try:
        yield node
    finally:
        node.close()


def _peer(node: RegtestNode) -> str:
    host, port = node.p2p_addr
    return f"{host}:{port}"


def get_ok(daemon: DaemonProcess, path: str) -> Any:
    """The JSON body of a 200 answer to ``GET path``."""
    got = daemon.get(path)
    assert got is not None, f"no answer to GET {path}"
    status, body = got
    assert status == 200, (path, status, body)
    return body


def _spot_heights(tip: int, seed: int) -> list[int]:
    edges = {0, 1, tip - 1, tip}
    for start in range(0, tip + 1, BATCH):
        edges.update({start, start + 1, start - 1})
    sample = random.Random(seed).sample(range(tip + 1), RANDOM_SPOT_CHECKS)
    return sorted(h for h in edges.union(sample) if 0 <= h <= tip)


def assert_same_chain(daemon: DaemonProcess, node: RegtestNode, seed: int = 20_000) -> int:
    """The daemon's best chain equals the node's: tip, chain work, sampled headers."""
    best = node.rpc.getbestblockhash()
    tip = node.rpc.getblockheader(best)
    got = get_ok(daemon, "/v1/tip")
    assert got["hash"] == best
    assert got["height"] == tip["height"]
    assert int(got["chainwork"], 16) == int(tip["chainwork"], 16)
    for height in _spot_heights(int(tip["height"]), seed):
        block_hash = node.rpc.getblockhash(height)
        answer = get_ok(daemon, f"/v1/headers/{height}")
        assert answer["hash"] == block_hash, height
        assert answer["header"] == node.rpc.getblockheader(block_hash, False), height
        assert answer["on_best_chain"] is True, height
    return int(tip["height"])


def _events(daemon: DaemonProcess, name: str) -> list[dict[str, object]]:
    return [line for line in daemon.log_lines() if line.get("event") == name]


def test_syncs_the_long_chain_equal_to_the_node(chain_node: RegtestNode,
                                               tmp_path: Path) -> None:
    height = chain_node.rpc.getblockcount()
    assert height >= chain_length(chain_node.kind)
    with DaemonProcess(tmp_path / "aureond", network=chain_node.network,
                       connect=[_peer(chain_node)], env=HTTP_UNLIMITED) as daemon:
        daemon.start()
        daemon.wait_height(height, timeout=SYNC_TIMEOUT)
        assert assert_same_chain(daemon, chain_node) == height
        # Also by hash: the tip's header is found under its own hash.
        best = chain_node.rpc.getbestblockhash()
        by_hash = get_ok(daemon, f"/v1/headers/{best}")
        assert by_hash["height"] == height
        assert by_hash["confirmations"] == 1
        assert_good_terms(chain_node, daemon)
        assert daemon.terminate() == 0


def test_follows_new_blocks_as_they_are_mined(chain_node: RegtestNode,
                                              tmp_path: Path) -> None:
    with DaemonProcess(tmp_path / "aureond", network=chain_node.network,
                       connect=[_peer(chain_node)], env=HTTP_UNLIMITED) as daemon:
        daemon.start()
        daemon.wait_height(chain_node.rpc.getblockcount(), timeout=SYNC_TIMEOUT)
        for count in (1, 5):
            mined = chain_node.generate(count)
            target = chain_node.rpc.getblockcount()
            daemon.wait_height(target, timeout=FOLLOW_TIMEOUT)
            assert get_ok(daemon, "/v1/tip")["hash"] == mined[-1]
            for offset, block_hash in enumerate(mined):
                answer = get_ok(daemon, f"/v1/headers/{target - count + 1 + offset}")
                assert answer["hash"] == block_hash
        ready = wait_for(lambda: (daemon.get("/health/ready") or (0,))[0] == 200,
                         FOLLOW_TIMEOUT, "the daemon to report ready")
        assert ready
        assert_good_terms(chain_node, daemon)
        assert daemon.terminate() == 0


def test_node_restart_mid_sync_reconnects_and_finishes(chain_node: RegtestNode,
                                                        tmp_path: Path) -> None:
    target = chain_node.rpc.getblockcount()
    with DaemonProcess(tmp_path / "aureond", network=chain_node.network,
                       connect=[_peer(chain_node)], env=THROTTLED) as daemon:
        try:
            daemon.start()
            daemon.wait_height(BATCH, timeout=SYNC_TIMEOUT)
            chain_node.stop()
            wait_for(lambda: _events(daemon, "p2p.disconnected"), SYNC_TIMEOUT,
                     "the daemon to notice the node went away")
            # The node is gone (what it had sent is validated by now: the connection's
            # end is read after its last message) and the download is not finished.
            stopped_at = get_ok(daemon, "/v1/tip")["height"]
            assert BATCH <= stopped_at < target, stopped_at
            wait_for(lambda: _events(daemon, "p2p.connect_failed"), FOLLOW_TIMEOUT,
                     "a refused reconnection attempt")
            assert daemon.tip_height() == stopped_at  # nothing to sync from meanwhile
        finally:
            chain_node.restart()
        assert chain_node.rpc.getblockcount() == target
        daemon.wait_height(target, timeout=SYNC_TIMEOUT)
        assert assert_same_chain(daemon, chain_node, seed=7) == target
        connected = _events(daemon, "p2p.connected")
        assert len(connected) >= 2, connected
        refused = _events(daemon, "p2p.connect_failed")
        assert all(str(line["peer"]).endswith(_peer(chain_node)) for line in refused)
        assert_good_terms(chain_node, daemon)
        assert daemon.terminate() == 0
