"""Synthetic chains whose blocks commit to real merkle trees, and proofs against them.

Every ``COMMIT_EVERY``-th header's merkle root is the root of ``TXS_PER_BLOCK``
synthetic txids (the others hash their parent, as in :mod:`aureond.stress.chaingen`),
so Electrum-form inclusion proofs for those blocks verify against the node's own
headers through ``POST /v1/proofs/verify``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aureond.chain.hashing import hash_to_display
from aureond.chain.merkle import MerkleTree
from aureond.stress.merkle import synthetic_txids

__all__ = ["COMMIT_EVERY", "TXS_PER_BLOCK", "committed_merkle_of", "electrum_proof",
           "electrum_proofs"]

COMMIT_EVERY = 50
TXS_PER_BLOCK = 64


def _tree(height: int) -> MerkleTree:
    return MerkleTree.from_leaves(synthetic_txids(TXS_PER_BLOCK, height))


def committed_merkle_of(height: int, prev_hash: bytes) -> bytes:
    """The merkle root of the synthetic block at ``height`` (a ``MerkleOf``)."""
    if height % COMMIT_EVERY == 0:
        return _tree(height).root
    return hashlib.sha256(prev_hash).digest()


def electrum_proof(height: int, k: int = 0, tree: MerkleTree | None = None
                   ) -> dict[str, Any]:
    """A ``get_merkle``-form proof of one txid of the committed block at ``height``."""
    if height % COMMIT_EVERY:
        raise ValueError(f"block {height} commits to no tree; use a multiple of "
                         f"{COMMIT_EVERY}")
    tree = tree if tree is not None else _tree(height)
    pos = (height // COMMIT_EVERY * 7 + k * 31) % TXS_PER_BLOCK
    return {"tx_hash": hash_to_display(tree.levels[0][pos]),
            "merkle": [hash_to_display(h) for h in tree.branch(pos)],
            "pos": pos, "block_height": height}


def electrum_proofs(max_height: int, per_block: int = 2) -> list[dict[str, Any]]:
    """Proofs for the committed blocks up to ``max_height``, ``per_block`` each."""
    out: list[dict[str, Any]] = []
    for height in range(COMMIT_EVERY, max_height + 1, COMMIT_EVERY):
        tree = _tree(height)
        out += [electrum_proof(height, k, tree) for k in range(per_block)]
    return out
