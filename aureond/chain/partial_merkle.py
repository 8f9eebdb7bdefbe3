"""BIP37 partial merkle trees: the ``merkleblock`` payload and ``gettxoutproof`` output.

Layout: ``header(80) | u32 total_tx | CompactSize n | n * 32-byte hashes |
CompactSize m | m flag bytes``. Flag bits are read least-significant bit first. The
tree is walked depth first: a flag bit says whether the node is an ancestor of (or is)
a matched transaction; a node with bit 0, or a leaf, takes the next hash; a node with
bit 1 above the leaves descends into its children.

The checks are the reference node's (``CPartialMerkleTree::ExtractMatches``), plus one:

* ``1 <= total_tx <= max_transactions`` (by default 1 MB / 60 bytes, the smallest
  transaction: 16,666), ``n <= total_tx``, ``8 * m >= n``; the flag bytes may not
  exceed what a full walk of the tree could use;
* two children of a node that are both present may not be equal (CVE-2012-2459);
* every hash is used, and every flag byte: ``ceil(bits_used / 8) == m``. Like the
  reference node, the unused padding bits of the last byte are **not** required to be
  zero (its serializer writes zeros, its verifier ignores them): a proof differing only
  in those bits proves the same thing, so proofs are compared by what they prove, never
  by their bytes;
* added: no 64-byte concatenation of two children may parse as a transaction, the
  defence against passing an inner node off as a leaf (CVE-2017-12842).

``total_tx`` is authenticated only through the shape of the walk: another total that
yields the same walk proves the same matches at the same positions (as in the reference
node). Whoever needs the exact count must take it from the block.

Structural problems with the bytes raise :class:`~aureond.errors.EncodingError`; a tree
that is well formed but cannot be a valid proof raises
:class:`~aureond.errors.ProofError` with a short ``reason``.
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from hashlib import sha256

from aureond.chain.header import HEADER_SIZE, BlockHeader
from aureond.chain.merkle import MerkleTree, inner_node_is_tx
from aureond.chain.tx import compact_size, read_count
from aureond.errors import EncodingError, ProofError

__all__ = [
    "MAX_PARTIAL_TREE_TRANSACTIONS",
    "MerkleBlock",
    "PartialMatch",
    "PartialMerkleTree",
    "build_partial_tree",
    "tree_width",
]

#: Largest ``total_tx`` accepted: a 1,000,000-byte block of 60-byte transactions.
MAX_PARTIAL_TREE_TRANSACTIONS = 1_000_000 // 60

_U32 = struct.Struct("<I")


def tree_width(total_tx: int, height: int) -> int:
    """Nodes at ``height`` (0 = leaves) in a tree of ``total_tx`` leaves."""
    return (total_tx + (1 << height) - 1) >> height


def _tree_height(total_tx: int) -> int:
    return (total_tx - 1).bit_length()


def _max_flag_bits(total_tx: int) -> int:
    """Flag bits a walk of the whole tree uses: one per node."""
    return sum(tree_width(total_tx, h) for h in range(_tree_height(total_tx) + 1))


@dataclass(frozen=True, slots=True)
class PartialMatch:
    """What a partial tree proves: its root and the matched ``(pos, txid)`` pairs."""

    root: bytes
    matches: tuple[tuple[int, bytes], ...]


@dataclass(frozen=True, slots=True)
class PartialMerkleTree:
    """``total_tx``, the hashes in walk order, the flag bytes as serialized."""

    total_tx: int
    hashes: tuple[bytes, ...]
    flags: bytes
    max_transactions: int = MAX_PARTIAL_TREE_TRANSACTIONS

    def __post_init__(self) -> None:
        if self.total_tx < 1:
            raise ProofError("no-transactions", "a partial tree covers at least one "
                             "transaction")
        if self.total_tx > self.max_transactions:
            raise ProofError("too-many-transactions", f"total_tx {self.total_tx} exceeds "
                             f"{self.max_transactions}")
        if len(self.hashes) > self.total_tx:
            raise ProofError("too-many-hashes", f"{len(self.hashes)} hashes for "
                             f"{self.total_tx} transactions")
        if len(self.flags) * 8 < len(self.hashes):
            raise ProofError("too-few-flags", f"{len(self.flags)} flag bytes for "
                             f"{len(self.hashes)} hashes")
        usable = (_max_flag_bits(self.total_tx) + 7) // 8
        if len(self.flags) > usable:
            raise ProofError("too-many-flags", f"{len(self.flags)} flag bytes, a tree of "
                             f"{self.total_tx} transactions can use at most {usable}")
        for h in self.hashes:
            if len(h) != 32:
                raise ProofError("bad-length", f"a hash is {len(h)} bytes, not 32")

    @classmethod
    def parse_from(cls, buf: bytes, off: int,
                   max_transactions: int = MAX_PARTIAL_TREE_TRANSACTIONS,
                   ) -> tuple[PartialMerkleTree, int]:
        """Decode a tree at ``off`` in ``buf``; return it and the offset after it."""
        if off + 4 > len(buf):
            raise EncodingError("partial merkle tree: total_tx truncated")
        (total_tx,) = _U32.unpack_from(buf, off)
        n, off = read_count(buf, off + 4, "hash count", 32)
        hashes = tuple(buf[i:i + 32] for i in range(off, off + 32 * n, 32))
        m, off = read_count(buf, off + 32 * n, "flag byte count", 1)
        flags = buf[off:off + m]
        return cls(total_tx, hashes, flags, max_transactions), off + m

    @classmethod
    def parse(cls, raw: bytes | bytearray | memoryview,
              max_transactions: int = MAX_PARTIAL_TREE_TRANSACTIONS) -> PartialMerkleTree:
        buf = bytes(raw)
        tree, off = cls.parse_from(buf, 0, max_transactions)
        if off != len(buf):
            raise EncodingError(f"{len(buf) - off} trailing bytes after the partial tree")
        return tree

    def serialize(self) -> bytes:
        return b"".join((_U32.pack(self.total_tx), compact_size(len(self.hashes)),
                         *self.hashes, compact_size(len(self.flags)), self.flags))

    def extract(self) -> PartialMatch:
        """Walk the tree: the root it commits to and the matched leaves, in order."""
        return _Walk(self).run()


class _Walk:
    """One traversal; the cursors live here rather than in the frozen tree."""

    __slots__ = ("bits_used", "flags", "hashes", "hashes_used", "matches", "total_tx")

    def __init__(self, tree: PartialMerkleTree) -> None:
        self.total_tx = tree.total_tx
        self.hashes = tree.hashes
        self.flags = tree.flags
        self.bits_used = 0
        self.hashes_used = 0
        self.matches: list[tuple[int, bytes]] = []

    def run(self) -> PartialMatch:
        root = self._node(_tree_height(self.total_tx), 0)
        if (self.bits_used + 7) // 8 != len(self.flags):
            raise ProofError("unused-flags", f"{len(self.flags)} flag bytes, "
                             f"{self.bits_used} bits used")
        if self.hashes_used != len(self.hashes):
            raise ProofError("unused-hashes", f"{len(self.hashes)} hashes, "
                             f"{self.hashes_used} used")
        return PartialMatch(root, tuple(self.matches))

    def _node(self, height: int, pos: int) -> bytes:
        bit = self.bits_used
        if bit >= 8 * len(self.flags):
            raise ProofError("flags-exhausted", "the walk needs more flag bits")
        self.bits_used = bit + 1
        parent_of_match = (self.flags[bit >> 3] >> (bit & 7)) & 1
        if height == 0 or not parent_of_match:
            if self.hashes_used >= len(self.hashes):
                raise ProofError("hashes-exhausted", "the walk needs more hashes")
            h = self.hashes[self.hashes_used]
            self.hashes_used += 1
            if height == 0 and parent_of_match:
                self.matches.append((pos, h))
            return h
        left = self._node(height - 1, pos * 2)
        if pos * 2 + 1 < tree_width(self.total_tx, height - 1):
            right = self._node(height - 1, pos * 2 + 1)
            if right == left:
                raise ProofError("duplicate-sibling", f"equal children at height {height}, "
                                 f"position {pos}")
        else:
            right = left
        if left[4] < 2 and inner_node_is_tx(left, right):
            raise ProofError("inner-node-is-tx", f"the children at height {height}, "
                             f"position {pos} form a transaction")
        return sha256(sha256(left + right).digest()).digest()


@dataclass(frozen=True, slots=True)
class MerkleBlock:
    """A header and a partial merkle tree (``merkleblock`` / ``gettxoutproof``)."""

    header: BlockHeader
    tree: PartialMerkleTree

    @classmethod
    def parse(cls, raw: bytes | bytearray | memoryview,
              max_transactions: int = MAX_PARTIAL_TREE_TRANSACTIONS) -> MerkleBlock:
        """Decode strictly: every byte belongs to the header or the tree."""
        buf = bytes(raw)
        if len(buf) < HEADER_SIZE:
            raise EncodingError(f"a merkle block starts with an {HEADER_SIZE}-byte header, "
                                f"got {len(buf)} bytes")
        header = BlockHeader.parse(buf[:HEADER_SIZE])
        tree, off = PartialMerkleTree.parse_from(buf, HEADER_SIZE, max_transactions)
        if off != len(buf):
            raise EncodingError(f"{len(buf) - off} trailing bytes after the merkle block")
        return cls(header, tree)

    def serialize(self) -> bytes:
        return self.header.serialize() + self.tree.serialize()


def build_partial_tree(txids: Sequence[bytes], matched: Collection[int],
                       max_transactions: int = MAX_PARTIAL_TREE_TRANSACTIONS,
                       ) -> PartialMerkleTree:
    """The partial tree proving the txids at positions ``matched`` (may be empty)."""
    total = len(txids)
    for p in matched:
        if not 0 <= p < total:
            raise ProofError("pos-out-of-range", f"position {p} not in a block of {total} "
                             "transactions")
    levels = MerkleTree.from_leaves(txids).levels
    marks = [[False] * total]
    for p in matched:
        marks[0][p] = True
    for height in range(1, len(levels)):
        below = marks[-1]
        marks.append([below[2 * i] or (2 * i + 1 < len(below) and below[2 * i + 1])
                      for i in range(len(levels[height]))])

    hashes: list[bytes] = []
    bits: list[bool] = []

    def build(height: int, pos: int) -> None:
        mark = marks[height][pos]
        bits.append(mark)
        if height == 0 or not mark:
            hashes.append(levels[height][pos])
            return
        build(height - 1, pos * 2)
        if pos * 2 + 1 < len(levels[height - 1]):
            build(height - 1, pos * 2 + 1)

    build(len(levels) - 1, 0)
    flags = bytearray((len(bits) + 7) // 8)
    for i, bit in enumerate(bits):
        if bit:
            flags[i >> 3] |= 1 << (i & 7)
    return PartialMerkleTree(total, tuple(hashes), bytes(flags), max_transactions)
