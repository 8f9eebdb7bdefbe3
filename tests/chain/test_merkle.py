"""Merkle roots and branches: real blocks, every attack provoked, properties."""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from hashlib import sha256
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aureond.chain.hashing import dsha256, hash_from_display
from aureond.chain.header import BlockHeader
from aureond.chain.merkle import (
    MAX_BRANCH_DEPTH,
    MerkleTree,
    branch_root,
    inner_node_is_tx,
    merkle_branch,
    merkle_root,
    merkle_root_mutated,
    required_duplicates,
    tree_depth,
    verify_branch,
    verify_branches,
)
from aureond.chain.tx import is_transaction, parse_block
from aureond.errors import ProofError


def leaves(n: int, salt: int = 0) -> list[bytes]:
    return [sha256(struct.pack("<II", salt, i)).digest() for i in range(n)]


def bare_fold(h: bytes, branch: Sequence[bytes], pos: int) -> bytes:
    """The root with no checks at all: shows that an attack really reaches the root."""
    for sib in branch:
        h = dsha256(sib + h) if pos & 1 else dsha256(h + sib)
        pos >>= 1
    return h


def reason(exc: pytest.ExceptionInfo[ProofError]) -> str:
    return exc.value.reason


# A 64-byte legacy transaction: 1 input, 1 output with a 4-byte script.
TX64 = (struct.pack("<i", 1) + b"\x01" + bytes(range(1, 33)) + struct.pack("<I", 0)
        + b"\x00" + struct.pack("<I", 0xFFFFFFFF) + b"\x01" + struct.pack("<q", 1000)
        + b"\x04" + b"\x6a\x02\xab\xcd" + struct.pack("<I", 0))


# --- real data -------------------------------------------------------------------------

def test_real_branches_verify_with_and_without_count(data_dir: Path) -> None:
    files = sorted((data_dir / "proofs" / "electrum").glob("*.json"))
    assert len(files) == 2
    for path in files:
        doc = json.loads(path.read_text())
        header = BlockHeader.from_hex(doc["header_hex"])
        for case in doc["cases"]:
            tx = hash_from_display(case["tx_hash"])
            branch = [hash_from_display(m) for m in case["merkle"]]
            verify_branch(tx, branch, case["pos"], header.merkle_root)
            verify_branch(tx, branch, case["pos"], header.merkle_root, doc["tx_count"])


def test_real_block_branches_equal_served_ones(data_dir: Path) -> None:
    block = parse_block((data_dir / "blocks" / "mainnet_866342.bin").read_bytes())
    tree = MerkleTree.from_leaves(block.txids)
    assert tree.root == block.header.merkle_root == merkle_root(block.txids)
    doc = json.loads((data_dir / "proofs" / "electrum" /
                      "mainnet_866342_get_merkle.json").read_text())
    for case in doc["cases"]:
        assert [hash_from_display(m) for m in case["merkle"]] == \
            list(tree.branch(case["pos"]))
    results = verify_branches(((block.txids[p], tree.branch(p), p)
                               for p in range(len(block.txids))),
                              tree.root, len(block.txids))
    assert results == [None] * len(block.txids)


# --- units -----------------------------------------------------------------------------

def test_small_trees_by_hand() -> None:
    a, b, c = leaves(3)
    assert merkle_root([a]) == a
    assert merkle_root([a, b]) == dsha256(a + b)
    ab, cc = dsha256(a + b), dsha256(c + c)
    assert merkle_root([a, b, c]) == dsha256(ab + cc)
    assert merkle_branch([a, b, c], 2) == (c, ab)
    assert merkle_root_mutated([a, b, c, c]) == (merkle_root([a, b, c]), True)
    assert [tree_depth(n) for n in (1, 2, 3, 4, 5, 2048, 2049)] == [0, 1, 2, 2, 3, 11, 12]
    assert required_duplicates(4, 5) == 0b011
    assert required_duplicates(2, 5) == 0
    assert required_duplicates(0, 1) == 0


def test_single_transaction_block() -> None:
    (a,) = leaves(1)
    verify_branch(a, [], 0, a, tx_count=1)
    with pytest.raises(ProofError, match="pos-out-of-range"):
        verify_branch(a, [], 1, a)


def _ok() -> tuple[list[bytes], MerkleTree]:
    txs = leaves(5)
    return txs, MerkleTree.from_leaves(txs)


def test_duplicate_left_sibling_is_refused() -> None:
    # [a, b, c] and [a, b, c, c] share a root: "c at position 3" folds to the real root.
    a, b, c = leaves(3)
    root = merkle_root([a, b, c])
    forged = [c, dsha256(a + b)]
    assert bare_fold(c, forged, 3) == root
    with pytest.raises(ProofError) as exc:
        verify_branch(c, forged, 3, root)
    assert reason(exc) == "duplicate-sibling"


def test_self_duplication_must_continue_up_the_right_edge() -> None:
    # A self-duplicated node is last on its level; a distinct right sibling above it
    # is impossible, though the fold reaches the (forged) tree's root.
    a, c, d = leaves(3)
    forged = [a, dsha256(c + d)]
    root = bare_fold(a, forged, 0)
    with pytest.raises(ProofError) as exc:
        verify_branch(a, forged, 0, root)
    assert reason(exc) == "not-right-edge"


def test_known_count_requires_the_exact_duplications() -> None:
    txs, tree = _ok()                   # 5 leaves: pos 4 duplicates on levels 0 and 1
    branch = tree.branch(4)
    verify_branch(txs[4], branch, 4, tree.root, tx_count=5)
    with pytest.raises(ProofError) as exc:   # a 6-leaf block has a real sibling at level 0
        verify_branch(txs[4], branch, 4, tree.root, tx_count=6)
    assert reason(exc) == "duplicate-sibling"
    six = MerkleTree.from_leaves([*txs, txs[4]])  # a mutated 6-leaf tree: same root
    assert six.root == tree.root
    with pytest.raises(ProofError) as exc:
        verify_branch(txs[4], six.branch(5), 5, tree.root)
    assert reason(exc) == "duplicate-sibling"


def test_missing_required_duplication_is_refused() -> None:
    txs = leaves(3)
    forged = [txs[1], dsha256(txs[0] + txs[1])]   # claims a distinct sibling for the last
    with pytest.raises(ProofError) as exc:
        branch_root(txs[2], forged, 2, tx_count=3)
    assert reason(exc) == "not-right-edge"


def test_64_byte_inner_node_that_parses_as_a_transaction() -> None:
    assert len(TX64) == 64
    assert is_transaction(TX64)
    left, right = TX64[:32], TX64[32:]
    assert inner_node_is_tx(left, right)
    # A real two-transaction block holding TX64; the forger "proves" that `left` is a
    # transaction by extending TX64's branch one level down.
    other = leaves(1)[0]
    root = merkle_root([other, dsha256(TX64)])
    forged = [right, other]
    assert bare_fold(left, forged, 2) == root
    with pytest.raises(ProofError) as exc:
        verify_branch(left, forged, 2, root)
    assert reason(exc) == "inner-node-is-tx"
    with pytest.raises(ProofError) as exc:   # knowing the count catches it earlier
        verify_branch(left, forged, 2, root, tx_count=2)
    assert reason(exc) == "pos-out-of-range"
    with pytest.raises(ProofError) as exc:
        verify_branch(left, forged, 2, root, tx_count=5)
    assert reason(exc) == "depth-mismatch"
    # and on the right: the forged leaf is the second half
    forged_r = [left, other]
    assert bare_fold(right, forged_r, 3) == root
    with pytest.raises(ProofError) as exc:
        verify_branch(right, forged_r, 3, root)
    assert reason(exc) == "inner-node-is-tx"


def test_inner_node_prefilter_agrees_with_the_parser() -> None:
    for node in leaves(2000, salt=7):
        for other in leaves(2, salt=8):
            assert inner_node_is_tx(node, other) == is_transaction(node + other)
    segwit_like = bytearray(leaves(1)[0])
    segwit_like[4:6] = b"\x00\x01"
    assert not inner_node_is_tx(bytes(segwit_like), leaves(1)[0])


TAMPER = {
    "short tx_hash": (lambda t, b, p: (t[:31], b, p, None), "bad-length"),
    "short item": (lambda t, b, p: (t, [b[0][:31], *b[1:]], p, None), "bad-length"),
    "long item": (lambda t, b, p: (t, [*b[:-1], b[-1] + b"\x00"], p, None), "bad-length"),
    "negative pos": (lambda t, b, p: (t, b, -1, None), "pos-out-of-range"),
    "pos past the branch": (lambda t, b, p: (t, b, 1 << len(b), None), "pos-out-of-range"),
    "pos past the count": (lambda t, b, p: (t, b, 5, 5), "pos-out-of-range"),
    "too deep": (lambda t, b, p: (t, b * 12, p, None), "too-deep"),
    "short for the count": (lambda t, b, p: (t, b[:-1], p, 5), "depth-mismatch"),
    "wrong pos": (lambda t, b, p: (t, b, p ^ 1, None), "root-mismatch"),
    "bit flip": (lambda t, b, p: (t, [b[0][:-1] + bytes([b[0][-1] ^ 1]), *b[1:]], p, None),
                 "root-mismatch"),
    "bad count": (lambda t, b, p: (t, b, p, 0), "bad-count"),
}


@pytest.mark.parametrize(("mutate", "why"), list(TAMPER.values()), ids=list(TAMPER))
def test_tampered_branches(mutate: object, why: str) -> None:
    txs, tree = _ok()
    tx, branch, pos, count = mutate(txs[1], list(tree.branch(1)), 1)  # type: ignore[operator]
    with pytest.raises(ProofError) as exc:
        verify_branch(tx, branch, pos, tree.root, count)
    assert reason(exc) == why


def test_depth_limit_constant() -> None:
    assert MAX_BRANCH_DEPTH == 32
    h = leaves(1)[0]
    with pytest.raises(ProofError, match="too-deep"):
        branch_root(h, [h] * 33, 0)


# --- properties ------------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3000), st.integers(0, 2**32 - 1))
def test_every_branch_of_a_random_tree_verifies(n: int, salt: int) -> None:
    txs = leaves(n, salt)
    tree = MerkleTree.from_leaves(txs)
    assert tree.root == merkle_root(txs)
    items = [(txs[p], tree.branch(p), p) for p in range(n)]
    assert verify_branches(items, tree.root) == [None] * n
    assert verify_branches(items, tree.root, n) == [None] * n


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 3000), st.integers(0, 2**32 - 1), st.data())
def test_every_mutated_branch_fails(n: int, salt: int, data: st.DataObject) -> None:
    txs = leaves(n, salt)
    tree = MerkleTree.from_leaves(txs)
    pos = data.draw(st.integers(0, n - 1))
    tx, branch = txs[pos], list(tree.branch(pos))
    kind = data.draw(st.sampled_from(["flip-tx", "flip-item", "pos", "drop", "extend"]))
    if kind == "flip-tx" or (kind in ("flip-item", "drop", "pos") and not branch):
        bit = data.draw(st.integers(0, 255))
        tx = (int.from_bytes(tx, "little") ^ (1 << bit)).to_bytes(32, "little")
    elif kind == "flip-item":
        i = data.draw(st.integers(0, len(branch) - 1))
        bit = data.draw(st.integers(0, 255))
        branch[i] = (int.from_bytes(branch[i], "little") ^ (1 << bit)).to_bytes(32, "little")
    elif kind == "pos":
        pos ^= 1 << data.draw(st.integers(0, len(branch) - 1))
    elif kind == "drop":
        branch.pop()
    else:
        branch.append(data.draw(st.binary(min_size=32, max_size=32)))
    for count in (None, n):
        with pytest.raises(ProofError):
            verify_branch(tx, branch, pos, tree.root, count)


@settings(max_examples=300)
@given(st.integers(1, 5000), st.data())
def test_required_duplicates_matches_the_tree_walk(n: int, data: st.DataObject) -> None:
    pos = data.draw(st.integers(0, n - 1))
    mask, width = 0, n
    for level in range(tree_depth(n)):
        idx = pos >> level
        if idx == width - 1 and not idx & 1:
            mask |= 1 << level
        width = (width + 1) // 2
    assert required_duplicates(pos, n) == mask
