"""BIP37 partial merkle trees: real proofs, the reference node's checks, properties."""

from __future__ import annotations

import contextlib
import json
import struct
from hashlib import sha256
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aureond.chain.hashing import dsha256, hash_to_display
from aureond.chain.merkle import merkle_root
from aureond.chain.partial_merkle import (
    MAX_PARTIAL_TREE_TRANSACTIONS,
    MerkleBlock,
    PartialMerkleTree,
    build_partial_tree,
    tree_width,
)
from aureond.chain.tx import compact_size, parse_block
from aureond.errors import EncodingError, ProofError


def leaves(n: int, salt: int = 0) -> list[bytes]:
    return [sha256(struct.pack("<II", salt, i)).digest() for i in range(n)]


def tree_bytes(total: int, hashes: list[bytes], flags: bytes) -> bytes:
    return (struct.pack("<I", total) + compact_size(len(hashes)) + b"".join(hashes)
            + compact_size(len(flags)) + flags)


def reason_of(raw: bytes) -> str:
    with pytest.raises(ProofError) as exc:
        PartialMerkleTree.parse(raw).extract()
    return exc.value.reason


TX64 = (struct.pack("<i", 1) + b"\x01" + bytes(range(1, 33)) + struct.pack("<I", 0)
        + b"\x00" + struct.pack("<I", 0xFFFFFFFF) + b"\x01" + struct.pack("<q", 1000)
        + b"\x04" + b"\x6a\x02\xab\xcd" + struct.pack("<I", 0))


# --- real data -------------------------------------------------------------------------

def test_every_real_proof_extracts_its_matches(data_dir: Path) -> None:
    index = json.loads((data_dir / "proofs" / "bip37" / "index.json").read_text())
    assert len(index["proofs"]) == 8
    for entry in index["proofs"]:
        raw = (data_dir / "proofs" / "bip37" / entry["file"]).read_bytes()
        block = MerkleBlock.parse(raw)
        assert block.serialize() == raw
        assert block.header.hash_hex == entry["block_hash"]
        assert block.tree.total_tx == entry["total_transactions"]
        assert len(block.tree.hashes) == entry["hash_count"]
        found = block.tree.extract()
        assert found.root == block.header.merkle_root
        assert [(p, hash_to_display(t)) for p, t in found.matches] == \
            [(m["pos"], m["txid"]) for m in entry["matched"]]


def test_built_trees_equal_the_reference_nodes_bytes(data_dir: Path) -> None:
    block = parse_block((data_dir / "blocks" / "mainnet_830000.bin").read_bytes())
    for pos in (0, 1, 10, 100, 1000, 1850):
        raw = (data_dir / "proofs" / "bip37" / f"mainnet_0830000-{pos}.bin").read_bytes()
        tree = build_partial_tree(block.txids, {pos})
        assert block.header.serialize() + tree.serialize() == raw


def test_two_match_real_proof_rebuilt(data_dir: Path) -> None:
    block = parse_block((data_dir / "blocks" / "mainnet_300025.bin").read_bytes())
    raw = (data_dir / "proofs" / "bip37" / "mainnet_300025_merkleblock.bin").read_bytes()
    assert MerkleBlock(block.header, build_partial_tree(block.txids, {396, 397})
                       ).serialize() == raw


# --- the reference node's checks, one by one ---------------------------------------------

def test_widths() -> None:
    assert [tree_width(5, h) for h in range(4)] == [5, 3, 2, 1]
    assert MAX_PARTIAL_TREE_TRANSACTIONS == 16666


def test_count_bounds() -> None:
    one = leaves(1)
    assert reason_of(tree_bytes(0, [], b"")) == "no-transactions"
    assert reason_of(tree_bytes(16667, one, b"\x00")) == "too-many-transactions"
    assert reason_of(tree_bytes(1, leaves(2), b"\x00")) == "too-many-hashes"
    assert reason_of(tree_bytes(9, leaves(9), b"\xff")) == "too-few-flags"
    assert reason_of(tree_bytes(1, one, b"\x01\x00")) == "too-many-flags"
    PartialMerkleTree.parse(tree_bytes(16666, one, b"\x00")).extract()


def test_single_leaf_tree() -> None:
    (a,) = leaves(1)
    found = PartialMerkleTree.parse(tree_bytes(1, [a], b"\x01")).extract()
    assert found.root == a
    assert found.matches == ((0, a),)


def test_extra_hash_and_extra_flag_byte_are_refused() -> None:
    txs = leaves(7)
    tree = build_partial_tree(txs, {3})
    assert reason_of(tree_bytes(7, [*tree.hashes, txs[0]], tree.flags)) == "unused-hashes"
    assert reason_of(tree_bytes(7, list(tree.hashes), tree.flags + b"\x00")) == \
        "unused-flags"
    assert reason_of(tree_bytes(7, list(tree.hashes[:-1]), tree.flags)) == \
        "hashes-exhausted"


def test_missing_flag_bits_are_refused() -> None:
    txs = leaves(64)
    tree = build_partial_tree(txs, set(range(64)))  # 127 nodes, 16 flag bytes, all set
    assert reason_of(tree_bytes(64, list(tree.hashes), tree.flags[:8])) == \
        "flags-exhausted"


def test_padding_bits_are_ignored_like_the_reference_node() -> None:
    txs = leaves(5)
    tree = build_partial_tree(txs, {2})
    used = len(tree.flags) * 8
    found = tree.extract()
    last = tree.flags[-1]
    spare = [b for b in range(8) if not last >> b & 1]
    padded = tree.flags[:-1] + bytes([last | 1 << spare[-1]])
    assert used > 0
    assert PartialMerkleTree.parse(
        tree_bytes(5, list(tree.hashes), padded)).extract() == found


def test_duplicate_children_are_refused() -> None:
    # [a, b, c] and [a, b, c, c] share a root: claim the copy at position 3.
    a, b, c = leaves(3)
    forged = build_partial_tree([a, b, c, c], {3})
    with pytest.raises(ProofError) as exc:
        forged.extract()
    assert exc.value.reason == "duplicate-sibling"
    assert merkle_root([a, b, c, c]) == merkle_root([a, b, c])


def test_64_byte_inner_node_is_refused() -> None:
    # A real block [x, TX64]. The forged tree claims 4 transactions and matches the
    # first half of TX64 at position 2: its hashes still lead to the real root.
    (x,) = leaves(1)
    root = merkle_root([x, dsha256(TX64)])
    left, right = TX64[:32], TX64[32:]
    flags = bytes([0b01101])          # root 1, (h1,p0) 0, (h1,p1) 1, leaf 2 1, leaf 3 0
    raw = tree_bytes(4, [x, left, right], flags)
    assert dsha256(x + dsha256(left + right)) == root
    assert reason_of(raw) == "inner-node-is-tx"


BAD_ENCODINGS = {
    "empty": b"",
    "total only": struct.pack("<I", 3),
    "hash count beyond the data": struct.pack("<I", 3) + b"\x02" + bytes(32),
    "huge hash count": struct.pack("<I", 3) + b"\xff" + b"\xff" * 8,
    "non-canonical hash count": struct.pack("<I", 1) + b"\xfd\x01\x00" + bytes(32)
    + b"\x01\x01",
    "flag count beyond the data": tree_bytes(1, leaves(1), b"\x01")[:-1],
    "trailing byte": tree_bytes(1, leaves(1), b"\x01") + b"\x00",
}


@pytest.mark.parametrize("raw", list(BAD_ENCODINGS.values()), ids=list(BAD_ENCODINGS))
def test_bad_encodings(raw: bytes) -> None:
    with pytest.raises(EncodingError):
        PartialMerkleTree.parse(raw)


def test_merkle_block_strictness(data_dir: Path) -> None:
    raw = (data_dir / "proofs" / "bip37" / "mainnet_0000000000013b8a_merkleblock.bin"
           ).read_bytes()
    for cut in range(len(raw)):
        with pytest.raises((EncodingError, ProofError)):
            MerkleBlock.parse(raw[:cut]).tree.extract()
    with pytest.raises(EncodingError, match="trailing"):
        MerkleBlock.parse(raw + b"\x00")


def test_total_tx_is_committed_only_through_the_walked_shape() -> None:
    # As with the reference node: a total that gives the same walk proves the same thing.
    # Positions come from the walk, so they are unaffected; callers that need the exact
    # count must take it from the block itself.
    txs = leaves(5)
    tree = build_partial_tree(txs, {0})
    same_walk = PartialMerkleTree(6, tree.hashes, tree.flags)
    assert same_walk.extract() == tree.extract()


def test_build_rejects_positions_outside_the_block() -> None:
    with pytest.raises(ProofError, match="pos-out-of-range"):
        build_partial_tree(leaves(3), {3})


# --- properties ------------------------------------------------------------------------

@st.composite
def trees(draw: st.DrawFn) -> tuple[list[bytes], set[int]]:
    n = draw(st.integers(1, 3000))
    txs = leaves(n, draw(st.integers(0, 2**32 - 1)))
    matched = draw(st.sets(st.integers(0, n - 1), max_size=min(n, 40)))
    return txs, matched


@settings(max_examples=60, deadline=None)
@given(trees())
def test_random_partial_trees_round_trip_and_verify(case: tuple[list[bytes], set[int]]) -> None:
    txs, matched = case
    tree = build_partial_tree(txs, matched)
    raw = tree.serialize()
    assert PartialMerkleTree.parse(raw) == tree
    found = tree.extract()
    assert found.root == merkle_root(txs)
    assert found.matches == tuple((p, txs[p]) for p in sorted(matched))


@settings(max_examples=200, deadline=None)
@given(trees(), st.data())
def test_flipped_bits_fail_or_change_the_result(case: tuple[list[bytes], set[int]],
                                                data: st.DataObject) -> None:
    txs, matched = case
    tree = build_partial_tree(txs, matched)
    raw = tree.serialize()
    original = tree.extract()
    bit = data.draw(st.integers(32, 8 * len(raw) - 1))   # total_tx: see the test below
    flipped = bytearray(raw)
    flipped[bit >> 3] ^= 1 << (bit & 7)
    try:
        found = PartialMerkleTree.parse(bytes(flipped)).extract()
    except (EncodingError, ProofError):
        return
    # Only a padding bit of the last flag byte may flip without effect. The walk uses
    # one bit per node: a node either takes a hash or (flag 1, above the leaves) descends.
    used = len(tree.hashes) + sum(bin(b).count("1") for b in tree.flags) - len(matched)
    padding_bit = bit - 8 * (len(raw) - len(tree.flags))
    assert found != original or padding_bit >= used


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_raise_anything_else(raw: bytes) -> None:
    with contextlib.suppress(EncodingError, ProofError):
        PartialMerkleTree.parse(raw).extract()
    with contextlib.suppress(EncodingError, ProofError):
        MerkleBlock.parse(bytes(80) + raw).tree.extract()


@settings(max_examples=40, deadline=None)
@given(trees(), st.binary(min_size=1, max_size=8))
def test_prefixes_and_trailing_garbage_raise(case: tuple[list[bytes], set[int]],
                                             junk: bytes) -> None:
    txs, matched = case
    raw = build_partial_tree(txs, matched).serialize()
    for cut in range(0, len(raw), max(1, len(raw) // 64)):
        with pytest.raises((EncodingError, ProofError)):
            PartialMerkleTree.parse(raw[:cut]).extract()
    with pytest.raises(EncodingError):
        PartialMerkleTree.parse(raw + junk)
