"""The readiness rules of the contract, as one pure function.

Ready means synced: at least one connected peer, our tip within one block of the best
height the peers report, and a tip that is not stale. Catching up is its own state
(``initial-sync``, with progress; unknown, never 100 %, while no connected peer has
told us its height), not a failure; ``stalled`` is catching up without
making progress, or a tip too old for the network.

This is the one classifier of what the node reports (``/health/ready``, ``/v1/status``,
systemd's status line) and it has one staleness rule: a tip older than
``DEFAULT_STALE_AFTER`` (2 h, shared with the ``sync`` health check). The sync core's
own stale-tip detector (three block intervals, 30 min on Bitcoin) only makes it ask
every peer for headers again, as Bitcoin Core does; roughly one block in twenty takes
longer than that, so it must not turn a synced node unready. "Progressing" is the
core's fact: a sync peer is serving the missing headers.
"""

from __future__ import annotations

from aureond.api.view import SyncInfo, SyncState
from aureond.monitoring.checks import DEFAULT_STALE_AFTER as CHECK_STALE_AFTER

__all__ = ["DEFAULT_STALE_AFTER", "MAX_LAG_BLOCKS", "assess_sync"]

MAX_LAG_BLOCKS = 1
"""A tip this many blocks below the best peer height still counts as synced."""

DEFAULT_STALE_AFTER = CHECK_STALE_AFTER
"""A tip older than this (seconds, by its timestamp) is stale: the same default as the
``sync`` health check, so ``/health`` and ``/health/ready`` agree."""


def assess_sync(*, tip_height: int, tip_time: float, best_peer_height: int | None,
                connected_peers: int, now: float, progressing: bool = True,
                stale_after: float = DEFAULT_STALE_AFTER) -> SyncInfo:
    """Classify the sync state from raw figures; ``now`` is Unix time.

    ``progressing`` is False when peers are ahead and none is serving the missing
    headers (the sync core has no sync peer); that turns catching up into stalled.
    """
    best = tip_height if best_peer_height is None else max(best_peer_height, 0)
    progress: float | None = None  # unknown without a peer that told us its height
    if best_peer_height is not None and connected_peers >= 1:
        progress = 1.0 if best <= 0 else min(1.0, max(tip_height, 0) / best)
    if connected_peers < 1:
        return SyncInfo(SyncState.CONNECTING, progress, ("no connected peer",))
    if best_peer_height is None:
        return SyncInfo(SyncState.INITIAL_SYNC, progress,
                        ("no peer has reported its height yet",))
    behind = best - tip_height
    if behind > MAX_LAG_BLOCKS:
        reason = (f"tip {tip_height} is {behind} blocks behind the best peer height "
                  f"{best}")
        state = SyncState.INITIAL_SYNC if progressing else SyncState.STALLED
        if not progressing:
            reason += " and is not advancing"
        return SyncInfo(state, progress, (reason,))
    age = now - tip_time
    if age > stale_after:
        return SyncInfo(SyncState.STALLED, progress,
                        (f"tip is {age:.0f} s old, stale after {stale_after:.0f} s",))
    return SyncInfo(SyncState.SYNCED, progress)
