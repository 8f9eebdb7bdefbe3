"""Watched accounts in the real daemon against each real regtest node with its wallet.

The node's wallet pays addresses it generated (``getnewaddress``: P2PKH on the SV node,
bech32 ``rltc1`` on Litecoin Core); the daemon, connected to the node alone, watches
them as accounts and must show what the node's own wallet says: amounts,
confirmations, spends; drop a payment a reorg removes and show it again once re-mined;
serve merkle proofs that ``aureond proof verify`` and ``POST /v1/proofs/verify``
accept; and after ``kill -9`` during a rescan or while snapshots are written, come
back to exactly the node's view. On Litecoin the payments land in blocks past MWEB
activation, which end with the HogEx transaction and come without MWEB data.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aureond.devnet import NodeBinaries, RegtestNode, regtest_address, wait_until
from tests.integration.daemon import DaemonProcess, wait_for
from tests.integration.nodecheck import assert_good_terms
from tests.integration.test_reorg_real import _rejoin, _split
from tests.integration.test_sync_real import get_ok

MATURITY = 101
FOLLOW = 30.0
SAT = Decimal(100_000_000)
OTHER = regtest_address("someone else")
ELSEWHERE = regtest_address("the other branch")


def _peer(node: RegtestNode) -> str:
    host, port = node.p2p_addr
    return f"{host}:{port}"


def _sat(btc: Any) -> int:
    return int(Decimal(str(btc)) * SAT)


def _request(daemon: DaemonProcess, method: str, path: str,
             body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(daemon.url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, text = resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    return status, json.loads(text) if text else None


def _add_account(daemon: DaemonProcess, addresses: list[str], birthday: int) -> str:
    status, doc = _request(daemon, "POST", "/v1/accounts",
                           {"label": "wallet", "watch": addresses, "birthday": birthday})
    assert status == 201, doc
    return str(doc["id"])


def _scanned(daemon: DaemonProcess, height: int) -> bool:
    """The ledger is at ``height`` with no rescan pending."""
    scan = get_ok(daemon, "/v1/accounts")["scan"]
    return bool(scan["ledger_height"] == height and scan["rescans"] == 0)


def _wait_scanned(daemon: DaemonProcess, node: RegtestNode, timeout: float = FOLLOW) -> None:
    height = node.rpc.getblockcount()
    wait_for(lambda: daemon.alive() and _scanned(daemon, height), timeout,
             f"the ledger to reach height {height} with no rescan left")


def _node_view(node: RegtestNode, address: str) -> set[tuple[str, int, int, int]]:
    """(txid, vout, satoshis, confirmations) of the node's confirmed coins of ``address``
    (its wallet owns the address; locked coins are unlocked to be listed)."""
    node.rpc.call("lockunspent", True)
    coins = node.rpc.call("listunspent", 1, 9_999_999, [address])
    return {(c["txid"], c["vout"], _sat(c["amount"]), c["confirmations"]) for c in coins}


def _daemon_view(daemon: DaemonProcess, account_id: str) -> set[tuple[str, int, int, int]]:
    doc = get_ok(daemon, f"/v1/accounts/{account_id}")
    return {(u["txid"], u["vout"], u["value_sat"], u["confirmations"]) for u in doc["utxos"]}


def _metric(daemon: DaemonProcess, name: str) -> float | None:
    text = get_ok(daemon, "/metrics")
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and not sample.labels:
                return float(sample.value)
    return None


def _vout_of(node: RegtestNode, txid: str, address: str) -> int:
    """The output of the wallet's transaction ``txid`` that pays ``address``."""
    details = node.rpc.call("gettransaction", txid)["details"]
    return int(next(d["vout"] for d in details
                    if d.get("address") == address and d.get("category") == "receive"))


def _pay(node: RegtestNode, address: str, btc: str) -> str:
    """Pay ``address`` from the wallet and lock the new coin, so that the wallet does
    not spend it again as an input of its next payment (it owns the address)."""
    txid = node.rpc.sendtoaddress(address, btc)
    node.rpc.call("lockunspent", False, [{"txid": txid, "vout": _vout_of(node, txid, address)}])
    return txid


def _spend(node: RegtestNode, txid: str, vout: int, value: int, to: str) -> str:
    """Spend exactly one coin (the wallet holds its key) to ``to``, 10,000 sat fee."""
    out = str(Decimal(value - 10_000) / SAT)
    raw = node.rpc.call("createrawtransaction", [{"txid": txid, "vout": vout}], {to: out})
    signed = node.sign_raw_transaction(raw)
    return str(node.rpc.call("sendrawtransaction", signed["hex"]))


def _mature(node: RegtestNode, address: str) -> int:
    """Mine ``MATURITY`` blocks to ``address`` (the wallet's), and on a node with MWEB
    on past its activation; the height reached."""
    node.generate(MATURITY, address)
    if node.kind.mweb_height is not None:
        node.generate(node.kind.mweb_height + 8 - node.rpc.getblockcount(), OTHER)
    return node.rpc.getblockcount()


@pytest.fixture
def wallet_node(node_binaries: NodeBinaries, tmp_path: Path) -> Iterator[RegtestNode]:
    """A node with its wallet and mature coins (``MATURITY`` blocks mined to it; past
    MWEB activation on Litecoin)."""
    node = RegtestNode(node_binaries, tmp_path / "node", wallet=True).start()
    try:
        _mature(node, node.rpc.getnewaddress())
        yield node
    finally:
        node.close()


def test_payments_spends_confirmations_and_proofs(wallet_node: RegtestNode,
                                                  tmp_path: Path) -> None:
    node = wallet_node
    with DaemonProcess(tmp_path / "aureond", network=node.network,
                       connect=[_peer(node)]) as daemon:
        daemon.start()
        daemon.wait_height(node.rpc.getblockcount(), timeout=FOLLOW)
        address = node.rpc.getnewaddress()
        account = _add_account(daemon, [address], birthday=50)  # a rescan of 52 blocks
        paid = {_pay(node, address, "1.5"), _pay(node, address, "0.25")}
        node.generate(1, OTHER)
        node.generate(2, OTHER)
        _wait_scanned(daemon, node)

        doc = get_ok(daemon, f"/v1/accounts/{account}")
        assert doc["balance_sat"] == 175_000_000
        assert {u["txid"] for u in doc["utxos"]} == paid
        assert {u["confirmations"] for u in doc["utxos"]} == {3}
        assert _daemon_view(daemon, account) == _node_view(node, address)

        # Spend the 1.5 coin: a debit, the balance drops to the 0.25 coin.
        coin = next(u for u in doc["utxos"] if u["value_sat"] == 150_000_000)
        spender = _spend(node, coin["txid"], coin["vout"], coin["value_sat"], OTHER)
        node.generate(1, OTHER)
        _wait_scanned(daemon, node)
        doc = get_ok(daemon, f"/v1/accounts/{account}")
        assert doc["balance_sat"] == 25_000_000
        debits = [h for h in doc["history"] if h["kind"] == "debit"]
        assert [(d["txid"], d["value_sat"]) for d in debits] == [(spender, -150_000_000)]
        assert _daemon_view(daemon, account) == _node_view(node, address)

        # Every transaction's proof verifies offline against the header served with it.
        proofs = get_ok(daemon, f"/v1/accounts/{account}/proofs")["proofs"]
        assert {p["tx_hash"] for p in proofs} == paid | {spender}
        for i, proof in enumerate(proofs):
            assert proof["header"] == node.rpc.getblockheader(proof["block_hash"], False)
            path = tmp_path / f"proof-{i}.json"
            path.write_text(json.dumps(proof))
            done = subprocess.run(
                [sys.executable, "-m", "aureond", "proof", "verify", "--network",
                 node.network, "--header", proof["header"], "--electrum", str(path)],
                capture_output=True, text=True, timeout=30, check=False)
            assert done.returncode == 0, done.stdout + done.stderr

        # The node's own BIP37 proof (gettxoutproof) checks against the daemon's chain.
        for proof in proofs:
            block = proof["block_hash"]
            status, answer = _request(daemon, "POST", "/v1/proofs/verify", {
                "proof": node.rpc.gettxoutproof([proof["tx_hash"]], block)})
            assert status == 200, answer
            header = node.rpc.getblockheader(block)
            assert answer["valid"] is True, answer
            assert (answer["block_hash"], answer["height"], answer["confirmations"]) == (
                block, header["height"], header["confirmations"])
            assert answer["txids"] == [proof["tx_hash"]]

        # A snapshot on demand, verified offline; metrics say where the ledger is.
        status, info = _request(daemon, "POST", "/v1/state/snapshots")
        assert status == 201, info
        assert info["height"] == node.rpc.getblockcount()
        assert info["accounts"] == 1
        snap = next((tmp_path / "aureond" / "state" / "snapshots").glob("*.snap"))
        done = subprocess.run([sys.executable, "-m", "aureond", "state", "verify", str(snap)],
                              capture_output=True, text=True, timeout=30, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert _metric(daemon, "aureond_state_height") == node.rpc.getblockcount()
        assert _metric(daemon, "aureond_state_rescan_remaining_blocks") == 0
        assert_good_terms(node, daemon)
        assert daemon.terminate() == 0
    logs = (tmp_path / "aureond-aureond.log").read_text()
    assert account not in logs
    assert address not in logs


@pytest.fixture
def wallet_pair(node_binaries: NodeBinaries,
                tmp_path: Path) -> Iterator[tuple[RegtestNode, RegtestNode]]:
    """Node A (wallet, mature coins) connected to node B, both on A's chain."""
    a = RegtestNode(node_binaries, tmp_path / "a", wallet=True).start()
    try:
        b = RegtestNode(node_binaries, tmp_path / "b").start()
        try:
            a.connect(b)
            tip = _mature(a, a.rpc.getnewaddress())
            wait_until(lambda: b.rpc.getblockcount() == tip or None, FOLLOW,
                       "node B to have the shared chain")
            yield a, b
        finally:
            b.close()
    finally:
        a.close()


def _events(daemon: DaemonProcess, name: str) -> list[dict[str, Any]]:
    return [line for line in daemon.log_lines() if line.get("event") == name]


def test_a_reorg_drops_a_payment_and_the_re_mined_one_restores_it(
        wallet_pair: tuple[RegtestNode, RegtestNode], tmp_path: Path) -> None:
    a, b = wallet_pair
    base = a.rpc.getblockcount()
    with DaemonProcess(tmp_path / "aureond", network=a.network,
                       connect=[_peer(a)]) as daemon:
        daemon.start()
        daemon.wait_height(base, timeout=FOLLOW)
        address = a.rpc.getnewaddress()
        account = _add_account(daemon, [address], birthday=base + 1)

        _split(a, b)
        txid = _pay(a, address, "2")
        raw = a.rpc.call("getrawtransaction", txid)
        a.generate(1, OTHER)
        _wait_scanned(daemon, a)
        doc = get_ok(daemon, f"/v1/accounts/{account}")
        assert doc["balance_sat"] == 200_000_000
        assert [(u["txid"], u["height"], u["confirmations"]) for u in doc["utxos"]] == [
            (txid, base + 1, 1)]

        heavier = b.generate(3, ELSEWHERE)  # the payment is not on this branch
        _rejoin(a, b)
        assert a.rpc.getbestblockhash() == heavier[-1]
        _wait_scanned(daemon, a)
        doc = get_ok(daemon, f"/v1/accounts/{account}")
        assert doc["balance_sat"] == 0
        assert doc["utxos"] == []
        assert doc["history"] == []
        assert get_ok(daemon, f"/v1/accounts/{account}/proofs")["proofs"] == []
        reorgs = _events(daemon, "state.reorg")
        assert [(r["fork_height"], r["undone"]) for r in reorgs] == [(base, 1)]

        if txid not in a.rpc.call("getrawmempool"):
            a.rpc.call("sendrawtransaction", raw)
        a.generate(1, OTHER)
        _wait_scanned(daemon, a)
        doc = get_ok(daemon, f"/v1/accounts/{account}")
        assert [(u["txid"], u["height"], u["confirmations"]) for u in doc["utxos"]] == [
            (txid, base + 4, 1)]
        assert _daemon_view(daemon, account) == _node_view(a, address)
        proofs = get_ok(daemon, f"/v1/accounts/{account}/proofs")["proofs"]
        assert [(p["tx_hash"], p["block_height"]) for p in proofs] == [(txid, base + 4)]
        assert_good_terms(a, daemon)
        assert daemon.terminate() == 0


def _payments_over(node: RegtestNode, address: str, count: int, gap: int) -> None:
    """``count`` payments to ``address``, ``gap`` blocks apart; the first one is spent
    halfway (a debit deep in the history)."""
    first: tuple[str, int] | None = None
    for i in range(count):
        txid = _pay(node, address, f"0.{i + 1:02d}")
        node.generate(gap, OTHER)
        if first is None:
            first = (txid, _sat(f"0.{i + 1:02d}"))
        elif i == count // 2:
            _spend(node, first[0], _vout_of(node, first[0], address), first[1], OTHER)


def _kill_mid_scan(daemon: DaemonProcess, tip: int,
                   also: Callable[[], bool] = lambda: True) -> int:
    """``kill -9`` while a third to two thirds of ``tip`` blocks remain to be scanned
    (by the ledger or a rescan) and ``also()`` holds; returns how many remained."""

    def remaining() -> int | None:
        left = _metric(daemon, "aureond_state_rescan_remaining_blocks")
        inside = left is not None and tip // 3 <= left <= 2 * tip // 3
        return int(left) if inside and left is not None and also() else None

    left = wait_for(remaining, FOLLOW, "the scan to be halfway", interval=0.005)
    daemon.kill9()
    return int(left)


# The state layer's crash safety does not depend on the node; on Litecoin Core (its
# ~2,900-block chain mined and scanned four times over) it would add over a minute.
@pytest.mark.node_kinds("sv")
def test_kill_9_during_scans_and_snapshots_never_leaves_wrong_state(
        wallet_node: RegtestNode, tmp_path: Path) -> None:
    node = wallet_node
    first, second = node.rpc.getnewaddress(), node.rpc.getnewaddress()
    _payments_over(node, first, 10, 120)
    _payments_over(node, second, 10, 120)
    tip = node.rpc.getblockcount()
    data = tmp_path / "aureond"
    env = {"AUREOND_STATE__SNAPSHOT_EVERY_BLOCKS": "40",
           "AUREOND_HTTP__RATE_PER_SECOND": "1000", "AUREOND_HTTP__RATE_BURST": "1000",
           # /metrics is polled every 5 ms below: lift its own budget too.
           "AUREOND_HTTP__MONITORING_RATE_PER_SECOND": "1000",
           "AUREOND_HTTP__MONITORING_RATE_BURST": "1000",
           # Scans as fast as the node serves: no cap from the per-peer send rate.
           "AUREOND_P2P__MESSAGES_PER_SECOND": "5000"}

    # 1. A new account with history: a rescan, killed halfway (nothing is saved of a
    #    rescan but the account itself).
    daemon = DaemonProcess(data, network=node.network, connect=[_peer(node)],
                           env=env).start()
    one = _add_account(daemon, [first], birthday=0)
    assert _kill_mid_scan(daemon, tip) > 0

    # 2. Restart with no snapshot: the ledger itself scans from the birthday, writing a
    #    snapshot every 40 blocks; killed halfway.
    daemon = DaemonProcess(data, network=node.network, connect=[_peer(node)], env=env,
                           log_path=daemon.log_path)
    daemon.start()
    snapshots = data / "state" / "snapshots"
    # Snapshots are written off the loop while the scan goes on: kill once two are
    # on disk (and the scan still halfway).
    assert _kill_mid_scan(daemon, tip, lambda: len(list(snapshots.glob("*.snap"))) >= 2) > 0
    written = sorted(snapshots.glob("*.snap"))
    assert len(written) >= 2, written
    # What a crash mid-write leaves at worst: a temporary file; and bit rot in the
    # newest snapshot. Both must be ignored, with a reason logged for the second.
    (snapshots / (written[-1].name + ".tmp")).write_bytes(b"half a snapshot")
    written[-1].write_bytes(written[-1].read_bytes()[:-100])

    # 3. Restart: resumes from the older snapshot; a second account (birthday 0) needs
    #    a rescan, killed halfway too.
    daemon = DaemonProcess(data, network=node.network, connect=[_peer(node)], env=env,
                           log_path=daemon.log_path)
    daemon.start()
    _wait_scanned(daemon, node)
    two = _add_account(daemon, [second], birthday=0)
    assert _kill_mid_scan(daemon, tip) > 0
    skipped = _events(daemon, "state.snapshot.skipped")
    assert [s["file"] for s in skipped] == [written[-1].name], skipped
    restored = _events(daemon, "state.restored")
    assert [r["height"] for r in restored] == [int(written[-2].name[:10])]

    # 4. Restart again: both accounts equal what the node says.
    with DaemonProcess(data, network=node.network, connect=[_peer(node)], env=env,
                       log_path=daemon.log_path) as daemon:
        daemon.start()
        _wait_scanned(daemon, node, timeout=60)
        assert _daemon_view(daemon, one) == _node_view(node, first)
        assert _daemon_view(daemon, two) == _node_view(node, second)
        assert len(_node_view(node, first)) == 9
        assert len(_node_view(node, second)) == 9
        assert not list(snapshots.glob("*.tmp"))
        assert daemon.terminate() == 0
