"""``kill -9`` in the middle of a real header download, ten times, same data dir.

The node holds a 20,000-block chain. Ten kill heights are drawn from a seeded
``random.Random`` and sorted; run ``i`` of the daemon is killed with SIGKILL a random
0-30 ms after its tip first reaches the ``i``-th height, which lands inside the
validation and appending of the next 2,000-header batch (or, when a run starts past
its kill height, right after start-up: store just opened, handshake in flight).

Every restart must open the store on its own (healing a torn tail is allowed and
logged as ``store.healed``), start from a header that is on the node's chain, lose at
most the unsynced tail (``fsync_every_headers``), and the last run must end equal to
the node.
"""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aureond.devnet import NodeBinaries, RegtestNode
from aureond.store import FsyncPolicy, HeaderStore
from aureond.stress.chaingen import REGTEST_WORK, make_genesis
from tests.integration.daemon import DaemonProcess, wait_for
from tests.integration.test_sync_real import (
    HTTP_UNLIMITED,
    assert_same_chain,
    chain_length,
    get_ok,
    start_chain_node,
)

SEED = 20_240_611
KILLS = 10
KILL_JITTER = (0.0, 0.03)  # seconds after the kill height is seen: inside the next batch
FSYNC_TAIL = 2_000         # the store's default fsync_every_headers
READY_TIMEOUT = 30.0
SYNC_TIMEOUT = 90.0
POLL = 0.005

@dataclass(frozen=True, slots=True)
class Run:
    opened_at: int         # the store's tip when the run reported ready
    kill_height: int       # the run was killed once its tip reached this
    seen_before_kill: int  # the highest tip the API showed before the SIGKILL
    healed: bool


def _peer(node: RegtestNode) -> str:
    host, port = node.p2p_addr
    return f"{host}:{port}"


def _event(daemon: DaemonProcess, name: str) -> dict[str, Any] | None:
    for line in daemon.log_lines():
        if line.get("event") == name:
            return line
    return None


def _ready(daemon: DaemonProcess) -> dict[str, Any]:
    line = wait_for(lambda: daemon.alive() and _event(daemon, "node.ready"), READY_TIMEOUT,
                    "the daemon to open its store and report ready", interval=POLL)
    assert isinstance(line, dict)
    return line


@pytest.fixture
def chain_node(node_binaries: NodeBinaries, tmp_path_factory: pytest.TempPathFactory,
               tmp_path: Path) -> Iterator[RegtestNode]:
    node = start_chain_node(node_binaries, tmp_path_factory, tmp_path / "node")
    try:
        yield node
    finally:
        node.close()


def _assert_on_node_chain(daemon: DaemonProcess, node: RegtestNode, height: int) -> None:
    assert get_ok(daemon, f"/v1/headers/{height}")["hash"] == node.rpc.getblockhash(height)


def _run_and_kill(daemon: DaemonProcess, kill_height: int, jitter: float) -> Run:
    daemon.start(wait_ready=False)
    ready = _ready(daemon)
    opened = int(ready["store_height"])
    healed = _event(daemon, "store.healed") is not None
    seen = opened

    def reached() -> bool:
        nonlocal seen
        seen = max(seen, daemon.tip_height() or 0)
        return seen >= kill_height

    wait_for(reached, SYNC_TIMEOUT, f"the download to pass height {kill_height}",
             interval=POLL)
    time.sleep(jitter)
    daemon.kill9()
    return Run(opened, kill_height, seen, healed)


# Both nodes: ten kills inside the SV node's 20,000 headers, five inside litecoind's
# 4,500 (a shorter chain, but a slower download: scrypt).
def test_sigkill_during_download_never_breaks_the_store(chain_node: RegtestNode,
                                                        node_binaries: NodeBinaries,
                                                        tmp_path: Path) -> None:
    node = chain_node
    chain = chain_length(node_binaries.kind)
    kills = KILLS if chain >= 10_000 else KILLS // 2
    rng = random.Random(SEED)
    kill_heights = sorted(rng.sample(range(1, chain), kills))
    data_dir = tmp_path / "aureond"
    runs: list[Run] = []
    for i, kill_height in enumerate(kill_heights):
        daemon = DaemonProcess(data_dir, network=node.network, connect=[_peer(node)],
                               env=HTTP_UNLIMITED,
                               log_path=tmp_path / f"run-{i}.log")
        try:
            run = _run_and_kill(daemon, kill_height, rng.uniform(*KILL_JITTER))
        finally:
            daemon.kill9()
        assert daemon.returncode == -9, daemon.returncode
        runs.append(run)

    final = DaemonProcess(data_dir, network=node.network, connect=[_peer(node)],
                          env=HTTP_UNLIMITED,
                          log_path=tmp_path / "final.log")
    with final:
        final.start()
        opened = int(_ready(final)["store_height"])
        runs.append(Run(opened, chain, opened, _event(final, "store.healed") is not None))
        _assert_on_node_chain(final, node, opened)
        final.wait_height(chain, timeout=SYNC_TIMEOUT)
        assert assert_same_chain(final, node, seed=SEED) == chain
        for run in runs:
            for height in {run.opened_at, run.seen_before_kill}:
                _assert_on_node_chain(final, node, height)
        assert final.terminate() == 0

    for before, after in itertools.pairwise(runs):
        # What the API showed was written; a kill loses at most the unsynced tail.
        assert after.opened_at >= before.seen_before_kill - FSYNC_TAIL, (before, after)
    # Most kills landed inside the download, not after it.
    assert sum(run.seen_before_kill < chain for run in runs[:-1]) >= kills // 2, runs


# --- the store alone, killed before it ever fsyncs ---------------------------------

_APPEND_THEN_DIE = """
import os, signal, sys
from aureond.store import FsyncPolicy, HeaderStore
from aureond.stress.chaingen import REGTEST_WORK, extend, make_genesis
genesis = make_genesis()
store = HeaderStore.open(sys.argv[1], network_id="regtest", genesis_or_anchor=genesis,
                         anchor_height=0, anchor_chainwork=REGTEST_WORK,
                         fsync_policy=FsyncPolicy.manual())
chain = extend(genesis, int(sys.argv[2]))
for start in range(store.tip_height, len(chain), 100):
    store.append(chain[start:start + 100])
os.kill(os.getpid(), signal.SIGKILL)
"""




def test_hash_index_survives_sigkills_before_any_fsync(tmp_path: Path) -> None:
    """Three processes append to one store and die by SIGKILL before any fsync (the
    daemon's position between two flushes); the store must stay usable."""
    store_dir = tmp_path / "headers"
    for tip in (2_000, 4_000, 4_200):  # the smallest table has 4,096 slots
        done = subprocess.run([sys.executable, "-c", _APPEND_THEN_DIE, str(store_dir),
                               str(tip)], capture_output=True, text=True, timeout=120,
                              check=False)
        assert done.returncode == -9, done.stderr[-2000:]
    store = HeaderStore.open(store_dir, network_id="regtest", genesis_or_anchor=make_genesis(),
                             anchor_height=0, anchor_chainwork=REGTEST_WORK,
                             fsync_policy=FsyncPolicy.manual())
    try:
        assert store.tip_height == 4_200
        assert store.height_of(store.tip_hash) == 4_200
    finally:
        store.close()
