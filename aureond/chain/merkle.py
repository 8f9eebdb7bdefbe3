"""Merkle roots, branches and branch verification (the Electrum ``get_merkle`` form).

A level with an odd number of nodes pairs its last node with itself. That rule is what
CVE-2012-2459 abuses: ``[a, b, c]`` and ``[a, b, c, c]`` have the same root. A branch
is therefore checked for more than its root:

* every hash is exactly 32 bytes, the branch is at most :data:`MAX_BRANCH_DEPTH` long,
  ``0 <= pos < 2**len(branch)``;
* a sibling on the LEFT equal to the running node is refused (``duplicate-sibling``):
  honest trees duplicate only on the right;
* a sibling on the right equal to the running node (a self-duplicated last node) puts
  the node on the right edge of its level, and so every ancestor too: each later level
  where the node is a left child must then be a self-duplication as well
  (``not-right-edge``);
* when the caller knows the block's transaction count, ``pos < count``, the branch
  length equals the tree depth (``depth-mismatch``) and the self-duplications are
  exactly those the tree shape requires (``duplicate-sibling`` / ``not-right-edge``);
* no 64-byte concatenation of two nodes may parse as a transaction
  (``inner-node-is-tx``): otherwise an inner node could pass for a leaf
  (the "leaf-node weakness", CVE-2017-12842).

Failures raise :class:`~aureond.errors.ProofError` with one of those ``reason`` tags
(plus ``bad-length``, ``pos-out-of-range``, ``too-deep``, ``root-mismatch``). The fold
allocates nothing but the hashes it computes, and the rare checks (equal siblings,
possible transactions) sit behind cheap byte tests, so the common path is one length
test, one comparison and two SHA-256 calls per level.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from hashlib import sha256

from aureond.chain.tx import is_transaction
from aureond.errors import ProofError

__all__ = [
    "MAX_BRANCH_DEPTH",
    "MerkleTree",
    "branch_root",
    "inner_node_is_tx",
    "merkle_branch",
    "merkle_root",
    "merkle_root_mutated",
    "required_duplicates",
    "tree_depth",
    "verify_branch",
    "verify_branches",
]

#: Deepest branch accepted: 2**32 leaves is far beyond any block.
MAX_BRANCH_DEPTH = 32


def tree_depth(tx_count: int) -> int:
    """Number of levels below the root in a tree of ``tx_count`` leaves (>= 1)."""
    if tx_count < 1:
        raise ProofError("bad-count", f"a block has at least one transaction, got {tx_count}")
    return (tx_count - 1).bit_length()


def required_duplicates(pos: int, tx_count: int) -> int:
    """Bit mask of the levels where the node on ``pos``'s path is a self-duplicated last node.

    At level ``l`` the node is ``pos >> l``; it is the last of its level exactly when it
    equals ``(tx_count - 1) >> l`` (true from the level where ``pos`` and ``tx_count - 1``
    stop differing upward), and is duplicated there when it is even (bit ``l`` of ``pos``
    is 0).
    """
    depth = tree_depth(tx_count)
    first_last = (pos ^ (tx_count - 1)).bit_length()
    return ~pos & ((1 << depth) - 1) & ~((1 << first_last) - 1)


def _next_level(level: Sequence[bytes]) -> list[bytes]:
    n = len(level)
    out = []
    for i in range(0, n - 1, 2):
        out.append(sha256(sha256(level[i] + level[i + 1]).digest()).digest())
    if n & 1:
        last = level[-1]
        out.append(sha256(sha256(last + last).digest()).digest())
    return out


def merkle_root_mutated(leaves: Sequence[bytes]) -> tuple[bytes, bool]:
    """The merkle root of ``leaves`` and whether some level holds two equal adjacent nodes.

    A block whose tree is "mutated" has the same root as a different transaction list;
    such a block must be treated as invalid (CVE-2012-2459), not as the same block.
    """
    if not leaves:
        raise ProofError("bad-count", "a merkle tree needs at least one leaf")
    level: Sequence[bytes] = leaves
    mutated = False
    while len(level) > 1:
        for i in range(0, len(level) - 1, 2):
            if level[i] == level[i + 1]:
                mutated = True
        level = _next_level(level)
    return level[0], mutated


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The merkle root of wire-order leaf hashes (the last node of an odd level doubled)."""
    return merkle_root_mutated(leaves)[0]


@dataclass(frozen=True, slots=True)
class MerkleTree:
    """Every level of a merkle tree, leaves first; serves any branch without rehashing."""

    levels: tuple[tuple[bytes, ...], ...]

    @classmethod
    def from_leaves(cls, leaves: Sequence[bytes]) -> MerkleTree:
        if not leaves:
            raise ProofError("bad-count", "a merkle tree needs at least one leaf")
        levels = [tuple(leaves)]
        while len(levels[-1]) > 1:
            levels.append(tuple(_next_level(levels[-1])))
        return cls(tuple(levels))

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    @property
    def leaf_count(self) -> int:
        return len(self.levels[0])

    def branch(self, pos: int) -> tuple[bytes, ...]:
        """Sibling hashes from the leaf upward, as ``blockchain.transaction.get_merkle``."""
        if not 0 <= pos < self.leaf_count:
            raise ProofError("pos-out-of-range",
                             f"position {pos} not in a tree of {self.leaf_count} leaves")
        out = []
        for level in self.levels[:-1]:
            sib = pos ^ 1
            out.append(level[sib] if sib < len(level) else level[pos])
            pos >>= 1
        return tuple(out)


def merkle_branch(leaves: Sequence[bytes], pos: int) -> tuple[bytes, ...]:
    """The branch for one position (builds the whole tree; use :class:`MerkleTree` for many)."""
    return MerkleTree.from_leaves(leaves).branch(pos)


def inner_node_is_tx(left: bytes, right: bytes) -> bool:
    """True when ``left || right`` (64 bytes) parses as a transaction.

    Only a one-input transaction fits in 64 bytes, so byte 4 must be the input count 1
    (legacy) or the segwit marker 0 followed by flag 1; anything else is decided here
    without running the parser.
    """
    b4 = left[4]
    if b4 > 1 or (b4 == 0 and left[5] != 1):
        return False
    return is_transaction(left + right)


def branch_root(tx_hash: bytes, branch: Sequence[bytes], pos: int,
                tx_count: int | None = None) -> bytes:
    """Fold ``branch`` from ``tx_hash`` at ``pos`` to a root, with every check.

    ``tx_count``, when the caller knows it (from a trusted source), tightens the checks
    to the exact tree shape. Raises :class:`ProofError`.
    """
    if len(tx_hash) != 32:
        raise ProofError("bad-length", f"tx_hash is {len(tx_hash)} bytes, not 32")
    depth = len(branch)
    if depth > MAX_BRANCH_DEPTH:
        raise ProofError("too-deep", f"branch has {depth} levels, at most "
                         f"{MAX_BRANCH_DEPTH} allowed")
    if pos < 0 or pos >> depth:
        raise ProofError("pos-out-of-range",
                         f"position {pos} does not fit a branch of {depth} levels")
    if tx_count is not None:
        expected = tree_depth(tx_count)
        if expected > MAX_BRANCH_DEPTH:
            raise ProofError("bad-count", f"transaction count {tx_count} is impossible")
        if pos >= tx_count:
            raise ProofError("pos-out-of-range",
                             f"position {pos} but the block has {tx_count} transactions")
        if depth != expected:
            raise ProofError("depth-mismatch", f"branch has {depth} levels, a block of "
                             f"{tx_count} transactions needs {expected}")

    sha = sha256
    h = tx_hash
    mask = 1
    duplicated = 0
    for sib in branch:
        if len(sib) != 32:
            raise ProofError("bad-length", f"branch item {mask.bit_length() - 1} is "
                             f"{len(sib)} bytes, not 32")
        if pos & mask:
            if sib == h:
                raise ProofError("duplicate-sibling", "left sibling equals the node at "
                                 f"level {mask.bit_length() - 1}")
            if sib[4] < 2 and inner_node_is_tx(sib, h):
                raise ProofError("inner-node-is-tx", "a 64-byte inner node at level "
                                 f"{mask.bit_length() - 1} parses as a transaction")
            h = sha(sha(sib + h).digest()).digest()
        else:
            if sib == h:
                duplicated |= mask
            if h[4] < 2 and inner_node_is_tx(h, sib):
                raise ProofError("inner-node-is-tx", "a 64-byte inner node at level "
                                 f"{mask.bit_length() - 1} parses as a transaction")
            h = sha(sha(h + sib).digest()).digest()
        mask <<= 1

    if tx_count is not None:
        required = required_duplicates(pos, tx_count)
        if duplicated & ~required:
            raise ProofError("duplicate-sibling", "a sibling duplicates the node where the "
                             f"tree of {tx_count} transactions has a distinct one")
        if required & ~duplicated:
            raise ProofError("not-right-edge", "the last node of an odd level must be "
                             "paired with itself")
    elif duplicated:
        # Once self-duplicated, the node and all its ancestors are last of their level:
        # every higher level where it is a left child must be self-duplicated too.
        lowest = duplicated & -duplicated
        higher_left = ~pos & ((1 << depth) - 1) & ~((lowest << 1) - 1)
        if higher_left & ~duplicated:
            raise ProofError("not-right-edge", "a self-duplicated node is followed by a "
                             "distinct right sibling")
    return h


def verify_branch(tx_hash: bytes, branch: Sequence[bytes], pos: int, root: bytes,
                  tx_count: int | None = None) -> None:
    """Raise :class:`ProofError` unless ``branch`` proves ``tx_hash`` at ``pos`` under ``root``."""
    if branch_root(tx_hash, branch, pos, tx_count) != root:
        raise ProofError("root-mismatch", "the branch does not lead to the merkle root")


def verify_branches(items: Iterable[tuple[bytes, Sequence[bytes], int]], root: bytes,
                    tx_count: int | None = None) -> list[ProofError | None]:
    """Check many ``(tx_hash, branch, pos)`` against one root; ``None`` marks a valid one."""
    results: list[ProofError | None] = []
    append = results.append
    for tx_hash, branch, pos in items:
        try:
            ok = branch_root(tx_hash, branch, pos, tx_count) == root
        except ProofError as exc:
            append(exc)
            continue
        append(None if ok else
               ProofError("root-mismatch", "the branch does not lead to the merkle root"))
    return results
