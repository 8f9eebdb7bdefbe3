"""``merkle-tree``: roots, a proof for every leaf, every proof verified; BIP37 subsets.

For each configured size, synthetic txids build a :class:`~aureond.chain.merkle.MerkleTree`
whose root is checked against :func:`~aureond.chain.merkle.merkle_root`; then every
leaf's Electrum-form branch is served and verified with every check and the exact
transaction count (one timed operation each). Random subsets of positions are proven
with a BIP37 partial merkle tree, serialized, parsed back and walked, and must give
the root and exactly the chosen txids (one operation each).
"""

from __future__ import annotations

import hashlib
import time

from aureond.chain.merkle import MerkleTree, merkle_root, verify_branch
from aureond.chain.partial_merkle import PartialMerkleTree, build_partial_tree
from aureond.clock import SeededRandom
from aureond.errors import ChainError
from aureond.stress.context import RunContext
from aureond.stress.measure import Progress
from aureond.stress.report import Outcome

__all__ = ["run_merkle_tree", "synthetic_txids"]

MAX_SUBSET = 64
_NOTES = 5


def synthetic_txids(count: int, tag: int = 0) -> list[bytes]:
    prefix = tag.to_bytes(8, "little")
    return [hashlib.sha256(prefix + i.to_bytes(8, "little")).digest() for i in range(count)]


class _Tally:
    def __init__(self) -> None:
        self.ops = 0
        self.failures = 0
        self.latencies: list[float] = []
        self.notes: list[str] = []

    def fail(self, note: str) -> None:
        self.failures += 1
        if len(self.notes) < _NOTES:
            self.notes.append(note)


def _verify_all(tree: MerkleTree, txids: list[bytes], tally: _Tally, corrupt: bool) -> None:
    root = tree.root
    n = len(txids)
    perf = time.perf_counter
    latencies = tally.latencies
    for pos in range(n):
        branch = tree.branch(pos)
        if corrupt and pos == n // 2 and branch:
            branch = (bytes(32), *branch[1:])
        tally.ops += 1
        start = perf()
        try:
            verify_branch(txids[pos], branch, pos, root, n)
        except ChainError as exc:
            tally.fail(f"tree of {n}: proof of leaf {pos}: {exc}")
        latencies.append(perf() - start)


def _partials(txids: list[bytes], root: bytes, subsets: int, rng: SeededRandom,
              tally: _Tally) -> None:
    n = len(txids)
    for _ in range(subsets):
        size = 1 + int(rng.random() * min(MAX_SUBSET, n))
        chosen = sorted({int(rng.random() * n) for _ in range(size)})
        tally.ops += 1
        start = time.perf_counter()
        try:
            tree = build_partial_tree(txids, chosen, max_transactions=n)
            match = PartialMerkleTree.parse(tree.serialize(), max_transactions=n).extract()
            want = tuple((p, txids[p]) for p in chosen)
            if match.root != root or match.matches != want:
                tally.fail(f"tree of {n}: partial tree of {len(chosen)} gave the wrong "
                           "root or matches")
        except ChainError as exc:
            tally.fail(f"tree of {n}: partial tree of {len(chosen)}: {exc}")
        tally.latencies.append(time.perf_counter() - start)


def run_merkle_tree(ctx: RunContext) -> Outcome:
    sizes = ctx.sizes
    tally = _Tally()
    rng = SeededRandom(ctx.seed)
    details: dict[str, object] = {}
    progress = Progress(ctx.progress, "merkle-tree", len(sizes.merkle_trees))
    try:
        for i, n in enumerate(sizes.merkle_trees):
            txids = synthetic_txids(n, i)
            started = time.perf_counter()
            tree = MerkleTree.from_leaves(txids)
            built = time.perf_counter() - started
            tally.ops += 1
            if tree.root != merkle_root(txids):
                tally.fail(f"tree of {n}: the tree's root differs from merkle_root")
            before = len(tally.latencies)
            _verify_all(tree, txids, tally, ctx.inject_failure and i == 0)
            proofs_s = sum(tally.latencies[before:])
            _partials(txids, tree.root, sizes.partial_subsets, rng, tally)
            details[f"tree_{n}"] = {"build_s": built, "proofs": n, "proofs_s": proofs_s,
                                    "proofs_per_s": n / proofs_s if proofs_s > 0 else 0.0,
                                    "partial_trees": sizes.partial_subsets}
            progress.advance()
    finally:
        progress.close()
    return Outcome(tally.ops, tally.failures, tally.latencies,
                   latency_unit="one branch verification or one partial tree round trip",
                   details=details, failure_notes=tuple(tally.notes))
