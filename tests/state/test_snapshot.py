"""Snapshots over real data: build, verify, restore, prove; every corruption refused."""

from __future__ import annotations

import zlib
from dataclasses import replace
from hashlib import sha256
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aureond.clock import SeededRandom
from aureond.errors import ProofError
from aureond.state.accounts import AccountRegistry, account_state, new_account
from aureond.state.addresses import address_for_script
from aureond.state.codec import decode_leaf, encode_leaf
from aureond.state.commitment import (
    inclusion_path,
    leaf_hash,
    root_of,
    tree_levels,
    verify_inclusion,
)
from aureond.state.errors import SnapshotError
from aureond.state.ledger import BlockRef, Ledger
from aureond.state.networks import ADDRESS_PARAMS
from aureond.state.scanner import scan_block
from aureond.state.snapshot import (
    AccountProof,
    LeafCache,
    build_snapshot,
    parse_snapshot,
    prove_account,
    restore_ledger,
    seal,
    verify_account_proof,
)
from tests.state.helpers import KINDS, fingerprint, load_block
from tests.state.test_real_blocks import spent_script_of_kind

MAIN = ADDRESS_PARAMS["mainnet"]


@pytest.fixture(scope="module")
def real_state(data_dir: Path) -> tuple[AccountRegistry, Ledger]:
    """One account per script type (by address) plus one sharing a script, at 830000."""
    real = load_block(data_dir, 830000)
    rng = SeededRandom(7)
    registry = AccountRegistry()
    for kind in KINDS:
        script = spent_script_of_kind(real.block, kind)
        address = address_for_script(script, MAIN)
        assert address is not None
        registry.add(new_account(f"{kind} wallet", [address], 830000, MAIN, rng))
    shared = spent_script_of_kind(real.block, "p2tr")
    registry.add(new_account("late", [shared.hex()], 830001, MAIN, rng))
    ledger = Ledger(BlockRef(829999, real.block.header.prev_hash))
    for script, start in registry.start_heights().items():
        ledger.watch(script, start)
    ledger.apply(830000, scan_block(real.block, set(ledger.watched), ledger.coins))
    return registry, ledger


def test_round_trip_restores_the_same_ledger(real_state: tuple[AccountRegistry, Ledger]) -> None:
    registry, ledger = real_state
    info, data = build_snapshot("mainnet", registry, ledger, 1_700_000_000)
    snap = parse_snapshot(data)
    assert snap.info == info
    assert info.leaf_count == len(registry) == 6
    assert info.compressed_size < info.raw_size
    restored, rescan = restore_ledger(snap, registry)
    assert rescan == {}
    assert fingerprint(restored) == fingerprint(ledger)
    restored.undo()
    ledger_copy, _ = restore_ledger(snap, registry)
    ledger_copy.undo()
    assert fingerprint(restored) == fingerprint(ledger_copy)


def test_account_sees_only_what_its_birthday_allows(
        real_state: tuple[AccountRegistry, Ledger]) -> None:
    registry, ledger = real_state
    late = next(a for a in registry if a.label == "late")
    early = next(a for a in registry if a.label == "p2tr wallet")
    assert account_state(late, ledger).history == ()
    assert account_state(early, ledger).history != ()


def test_every_account_proves_and_a_tampered_leaf_does_not(
        real_state: tuple[AccountRegistry, Ledger]) -> None:
    registry, ledger = real_state
    _, data = build_snapshot("mainnet", registry, ledger, 1)
    snap = parse_snapshot(data)
    for account in registry:
        proof = AccountProof.from_json(prove_account(snap, account.id).to_json())
        state = verify_account_proof(proof, snap.info.state_root)
        assert state == account_state(account, ledger)
        bad = AccountProof(proof.network, proof.anchor, proof.state_root, proof.leaf_count,
                           proof.index, proof.leaf[:-1] + bytes([proof.leaf[-1] ^ 1]),
                           proof.path)
        with pytest.raises(ProofError):
            verify_account_proof(bad)
    with pytest.raises(ProofError, match="root-mismatch"):
        verify_account_proof(proof, bytes(32))
    with pytest.raises(KeyError):
        prove_account(snap, "0" * 16)


def test_leaf_cache_gives_identical_files(real_state: tuple[AccountRegistry, Ledger]) -> None:
    registry, ledger = real_state
    cache = LeafCache()
    first = build_snapshot("mainnet", registry, ledger, 5, cache)[1]
    assert build_snapshot("mainnet", registry, ledger, 5, cache)[1] == first
    assert build_snapshot("mainnet", registry, ledger, 5)[1] == first


def _reseal(data: bytes) -> bytes:
    return data[:-32] + sha256(data[:-32]).digest()


def test_corruptions_are_refused(real_state: tuple[AccountRegistry, Ledger]) -> None:
    registry, ledger = real_state
    _, data = build_snapshot("mainnet", registry, ledger, 1)
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x40
    cases = {
        "checksum": bytes(flipped),
        "truncated": data[:-100],
        "appended": data + b"\x00",
        "bad magic": b"X" + data[1:],
        "format": data[:8] + b"\x09\x00" + data[10:],
    }
    for expect, bad in cases.items():
        with pytest.raises(SnapshotError, match=expect.split()[0]):
            parse_snapshot(bad)
    resealed = bytearray(flipped)
    with pytest.raises(SnapshotError, match=r"decompress|malformed|root"):
        parse_snapshot(_reseal(bytes(resealed)))


def test_leaves_that_do_not_hash_to_the_root_are_refused(
        real_state: tuple[AccountRegistry, Ledger]) -> None:
    """A well-formed, correctly sealed file whose leaves were edited: the root says no."""
    registry, ledger = real_state
    info, data = build_snapshot("mainnet", registry, ledger, 1)
    raw = zlib.decompress(data[-32 - info.compressed_size:-32])
    assert raw.count(b"p2sh wallet") == 1
    edited = zlib.compress(raw.replace(b"p2sh wallet", b"p2sh wallex"))
    forged = replace(info, compressed_size=len(edited))
    with pytest.raises(SnapshotError, match="state root"):
        parse_snapshot(seal(forged, edited))
    assert parse_snapshot(seal(info, zlib.compress(raw))).info == info


@given(st.lists(st.binary(max_size=20), min_size=1, max_size=70), st.data())
def test_commitment_paths_verify_and_only_at_their_index(raw: list[bytes],
                                                         data: st.DataObject) -> None:
    leaves = [k.to_bytes(2, "big") + x for k, x in enumerate(raw)]  # distinct leaves
    levels = tree_levels([leaf_hash(x) for x in leaves])
    root = root_of(levels)
    i = data.draw(st.integers(0, len(leaves) - 1))
    path = inclusion_path(levels, i)
    verify_inclusion(leaves[i], i, len(leaves), path, root)
    j = data.draw(st.integers(0, len(leaves) - 1))
    if j != i:
        with pytest.raises(ProofError):
            verify_inclusion(leaves[i], j, len(leaves), path, root)
        with pytest.raises(ProofError):
            verify_inclusion(leaves[j], i, len(leaves), path, root)
    with pytest.raises(ProofError):
        verify_inclusion(leaves[i], i, len(leaves), path, bytes(32))


def test_leaf_encoding_is_canonical(real_state: tuple[AccountRegistry, Ledger]) -> None:
    registry, ledger = real_state
    for account in registry:
        state = account_state(account, ledger)
        leaf = encode_leaf(state)
        assert decode_leaf(leaf) == state
        with pytest.raises(Exception, match=r"trailing|canonical"):
            decode_leaf(leaf + b"\x00")
