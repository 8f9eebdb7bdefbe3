"""The state store: atomic files, pruning, restore picks the newest valid on-chain snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from aureond.clock import SeededRandom
from aureond.errors import StoreError
from aureond.state.accounts import AccountRegistry, new_account
from aureond.state.ledger import BlockRef, Ledger
from aureond.state.networks import ADDRESS_PARAMS
from aureond.state.snapshot import build_snapshot
from aureond.state.store import StateStore, atomic_write
from tests.state.helpers import h, synthetic_scan

SCRIPT = bytes.fromhex("0014" + "22" * 20)


def _state(blocks: int, fork_at: int | None = None) -> tuple[AccountRegistry, Ledger]:
    registry = AccountRegistry([new_account("a", [SCRIPT.hex()], 1, ADDRESS_PARAMS["mainnet"],
                                            SeededRandom(1))])
    ledger = Ledger()
    ledger.watch(SCRIPT, 1)
    for i in range(1, blocks + 1):
        bid = i + (1000 if fork_at is not None and i > fork_at else 0)
        prev = (i - 1) + (1000 if fork_at is not None and i - 1 > fork_at else 0)
        ledger.apply(i, synthetic_scan(bid, prev, [(i * 10, SCRIPT, i)], []))
    return registry, ledger


def test_accounts_round_trip(tmp_path: Path) -> None:
    store = StateStore(tmp_path, "mainnet")
    assert len(store.load_accounts()) == 0
    registry, _ = _state(1)
    store.save_accounts(registry)
    again = store.load_accounts()
    assert list(again) == list(registry)
    with pytest.raises(StoreError, match="network"):
        StateStore(tmp_path, "testnet4").load_accounts()


def test_corrupt_accounts_file_is_a_store_error(tmp_path: Path) -> None:
    store = StateStore(tmp_path, "mainnet")
    store.accounts_path.write_text("{not json")
    with pytest.raises(StoreError, match="move it away"):
        store.load_accounts()


def test_atomic_write_leaves_no_temp_and_leftovers_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "x.bin"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]
    (tmp_path / "accounts.json.tmp").write_bytes(b"half")
    StateStore(tmp_path, "mainnet")
    assert not (tmp_path / "accounts.json.tmp").exists()


def test_prune_keeps_the_newest(tmp_path: Path) -> None:
    store = StateStore(tmp_path, "mainnet", keep=3)
    for n in range(1, 7):
        registry, ledger = _state(n)
        store.write_snapshot(*build_snapshot("mainnet", registry, ledger, n))
    heights = [s.info.anchor.height for s in store.list_snapshots()]
    assert heights == [6, 5, 4]


def test_restore_skips_corrupt_truncated_and_stale_snapshots(tmp_path: Path) -> None:
    store = StateStore(tmp_path, "mainnet")
    for n in (3, 4, 5):
        store.write_snapshot(*build_snapshot("mainnet", *_state(n), n))
    stale_registry, stale_ledger = _state(6, fork_at=3)
    store.write_snapshot(*build_snapshot("mainnet", stale_registry, stale_ledger, 6))
    files = {s.info.anchor.height: s.path for s in store.list_snapshots()}
    files[5].write_bytes(files[5].read_bytes()[:-10])          # truncated
    data = bytearray(files[4].read_bytes())
    data[len(data) // 2] ^= 1
    files[4].write_bytes(bytes(data))                            # corrupt

    best = {BlockRef(i, h(i)) for i in range(1, 10)}
    with capture_logs() as logs:
        snap = store.newest_on_chain(best.__contains__)
    assert snap is not None
    assert snap.info.anchor == BlockRef(3, h(3))
    reasons = sorted((e["height"], e["reason"].split(":")[0]) for e in logs
                     if e["event"] == "state.snapshot.skipped")
    assert reasons[0] == (4, "checksum mismatch")
    assert reasons[1][0] == 5
    assert "truncated" in reasons[1][1]
    assert reasons[2] == (6, "stale-branch")
