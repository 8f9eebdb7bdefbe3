"""The merkle commitment over account leaves: root and inclusion proofs.

The tree is RFC 6962's (Certificate Transparency): leaves hashed as
``SHA-256(0x00 || leaf)``, inner nodes as ``SHA-256(0x01 || left || right)``, and an odd
node carried up unchanged rather than paired with itself. The prefixes keep a leaf from
ever passing for an inner node (the weakness CVE-2012-2459 and CVE-2017-12842 exploit
in Bitcoin's block tree), and without self-pairing no two leaf lists share a root. The
empty tree's root is ``SHA-256("")``. Proofs are checked with RFC 9162's algorithm
(section 2.1.3.2), which needs the leaf index and the tree size and accepts exactly
one path per leaf.
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import sha256

from aureond.errors import ProofError

__all__ = ["EMPTY_ROOT", "MAX_PATH", "inclusion_path", "leaf_hash", "node_hash",
           "root_of", "tree_levels", "verify_inclusion"]

EMPTY_ROOT = sha256(b"").digest()
#: Longest path accepted: 2**48 leaves is far beyond any ledger.
MAX_PATH = 48


def leaf_hash(leaf: bytes) -> bytes:
    return sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right).digest()


def tree_levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Every level, leaves first, the root level last (a lone last node moves up)."""
    levels = [list(leaf_hashes)]
    while len(levels[-1]) > 1:
        level = levels[-1]
        n = len(level)
        up = [sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, n - 1, 2)]
        if n & 1:
            up.append(level[-1])
        levels.append(up)
    return levels


def root_of(levels: Sequence[Sequence[bytes]]) -> bytes:
    return levels[-1][0] if levels and levels[0] else EMPTY_ROOT


def inclusion_path(levels: Sequence[Sequence[bytes]], index: int) -> tuple[bytes, ...]:
    """Sibling hashes from the leaf upward (levels where the node moves up alone add none)."""
    if not levels or not 0 <= index < len(levels[0]):
        raise ProofError("pos-out-of-range", f"leaf {index} is not in the tree")
    path = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        index >>= 1
    return tuple(path)


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes],
                     root: bytes) -> None:
    """Raise :class:`ProofError` unless ``path`` proves ``leaf`` (raw bytes) at ``index``
    in a tree of ``size`` leaves under ``root``."""
    if not 0 <= index < size:
        raise ProofError("pos-out-of-range", f"leaf {index} in a tree of {size}")
    if len(path) > MAX_PATH:
        raise ProofError("too-deep", f"path of {len(path)} hashes")
    fn, sn = index, size - 1
    r = leaf_hash(leaf)
    for p in path:
        if len(p) != 32:
            raise ProofError("bad-length", f"a path hash is {len(p)} bytes, not 32")
        if sn == 0:
            raise ProofError("depth-mismatch", "the path is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("depth-mismatch", "the path is shorter than the tree is deep")
    if r != root:
        raise ProofError("root-mismatch", "the path does not lead to the state root")
