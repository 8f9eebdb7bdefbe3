"""How big each scenario runs: ``tiny`` (the test suite), ``small`` (CI), ``full`` (by hand)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["SCALES", "Sizes"]


@dataclass(frozen=True, slots=True)
class Sizes:
    """Every size knob of every scenario. Counts shrink with :meth:`scaled`."""

    header_chains: tuple[int, ...]
    """Lengths of the synthetic chains built and validated (genesis included)."""
    merkle_trees: tuple[int, ...]
    """Leaf counts of the merkle trees."""
    partial_subsets: int
    """Random subsets proven with a BIP37 partial tree, per tree."""
    honest_peers: int
    faulty_per_kind: int
    """Peers of each faulty kind (bad PoW, garbage, stall)."""
    peer_chain: int
    """Headers the loopback peers serve at the start."""
    announcements: int
    """New headers announced by every honest peer after the initial sync."""
    clock_speed: float
    """How much faster than real time the node's clock runs in ``concurrent-peers``."""
    announce_timeout: float
    """Real seconds an announced header has to become the node's tip."""
    api_chain: int
    api_peers: int
    api_seconds: float
    """Seconds of HTTP load (it starts with the sync and outlasts it)."""
    health_rate: float
    metrics_rate: float
    proof_rate: float
    mixed_ops: int
    memory_headers: int
    memory_sample_every: int
    state_accounts: int
    """Accounts in ``state-compression``, one watched script each."""
    state_snapshots: int
    """Snapshots built, written and verified (one synthetic block between two)."""
    state_restores: int
    """The newest snapshots restored into a ledger and snapshotted again."""
    state_proofs: int
    """Account proofs generated from the newest snapshot and verified."""

    def scaled(self, fraction: float) -> Sizes:
        """The same run with counts cut to ``fraction`` (for the tracemalloc pass)."""
        def cut(n: int, floor: int) -> int:
            return max(floor, int(n * fraction))
        return dataclasses.replace(
            self,
            header_chains=tuple(cut(n, 2_100) for n in self.header_chains),
            merkle_trees=tuple(cut(n, 16) for n in self.merkle_trees),
            partial_subsets=cut(self.partial_subsets, 1),
            peer_chain=cut(self.peer_chain, 2_100),
            announcements=cut(self.announcements, 1),
            api_chain=cut(self.api_chain, 2_100),
            api_seconds=max(1.0, self.api_seconds * fraction),
            mixed_ops=cut(self.mixed_ops, 30),
            memory_headers=cut(self.memory_headers, 60_000),
            state_accounts=cut(self.state_accounts, 200),
            state_snapshots=cut(self.state_snapshots, 3),
            state_restores=cut(self.state_restores, 1),
            state_proofs=cut(self.state_proofs, 50),
        )


SCALES: dict[str, Sizes] = {
    "tiny": Sizes(
        header_chains=(2_500,), merkle_trees=(33, 200), partial_subsets=3,
        honest_peers=2, faulty_per_kind=1, peer_chain=2_500, announcements=3,
        clock_speed=120.0, announce_timeout=1.0, api_chain=2_500, api_peers=2, api_seconds=1.0,
        health_rate=50.0, metrics_rate=5.0, proof_rate=10.0, mixed_ops=30,
        memory_headers=60_000, memory_sample_every=10_000,
        state_accounts=300, state_snapshots=4, state_restores=2, state_proofs=100),
    "small": Sizes(
        header_chains=(10_000, 100_000), merkle_trees=(1_000, 10_000), partial_subsets=20,
        honest_peers=6, faulty_per_kind=1, peer_chain=20_000, announcements=30,
        clock_speed=30.0, announce_timeout=10.0, api_chain=50_000, api_peers=4, api_seconds=6.0,
        health_rate=500.0, metrics_rate=10.0, proof_rate=50.0, mixed_ops=1_500,
        memory_headers=200_000, memory_sample_every=20_000,
        state_accounts=5_000, state_snapshots=10, state_restores=2, state_proofs=2_000),
    "full": Sizes(
        header_chains=(10_000, 100_000, 1_000_000), merkle_trees=(1_000, 10_000, 100_000),
        partial_subsets=50, honest_peers=24, faulty_per_kind=3, peer_chain=200_000,
        announcements=200, clock_speed=30.0, announce_timeout=10.0, api_chain=200_000, api_peers=8,
        api_seconds=20.0, health_rate=500.0, metrics_rate=10.0, proof_rate=100.0,
        mixed_ops=15_000, memory_headers=1_000_000, memory_sample_every=50_000,
        state_accounts=100_000, state_snapshots=100, state_restores=5, state_proofs=10_000),
}
