"""Node values as the JSON the API answers with (display hex at this edge only)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aureond.api.view import HeaderInfo, PeerInfo, SyncInfo, TipInfo
from aureond.chain.hashing import hash_to_display
from aureond.resilience.recovery import RecoveryContext

__all__ = [
    "confirmations",
    "header_json",
    "peer_json",
    "peers_summary",
    "recovery_json",
    "rfc3339",
    "sync_json",
    "tip_json",
    "work_hex",
]


def rfc3339(unix: float) -> str:
    """Unix seconds as an RFC 3339 UTC timestamp (``2024-02-11T18:17:37Z``)."""
    if not math.isfinite(unix) or not 0 <= unix < 253402300800:  # year 10000
        unix = 0.0
    stamp = datetime.fromtimestamp(unix, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def work_hex(chainwork: int) -> str:
    """Chain work as 64 hex digits, like the reference node's ``chainwork``."""
    return f"{chainwork:064x}"


def tip_json(tip: TipInfo) -> dict[str, Any]:
    return {"height": tip.height, "hash": hash_to_display(tip.hash),
            "chainwork": work_hex(tip.chainwork), "time": tip.time}


def confirmations(info: HeaderInfo, tip_height: int) -> int:
    """Blocks on top of and including ``info`` on the best chain; 0 off it."""
    if not info.on_best_chain:
        return 0
    return max(0, tip_height - info.height + 1)


def header_json(info: HeaderInfo, tip_height: int) -> dict[str, Any]:
    h = info.header
    return {
        "height": info.height,
        "hash": h.hash_hex,
        "header": h.serialize().hex(),
        "fields": {
            "version": h.version,
            "prev_hash": hash_to_display(h.prev_hash),
            "merkle_root": hash_to_display(h.merkle_root),
            "time": h.time,
            "bits": f"{h.bits:08x}",
            "nonce": h.nonce,
        },
        "confirmations": confirmations(info, tip_height),
        "on_best_chain": info.on_best_chain,
    }


def sync_json(sync: SyncInfo) -> dict[str, Any]:
    progress = None if sync.progress is None else round(sync.progress, 6)
    return {"state": sync.state.value, "progress": progress,
            "ready": sync.ready, "reasons": list(sync.reasons)}


def peer_json(peer: PeerInfo) -> dict[str, Any]:
    return {
        "slot": peer.slot,
        "address": peer.address,
        "state": peer.state,
        "breaker": peer.breaker,
        "score": peer.score,
        "ban_reason": peer.ban_reason,
        "ban_expires": None if peer.ban_expires is None else rfc3339(peer.ban_expires),
        "user_agent": peer.user_agent,
        "start_height": peer.start_height,
        "connected_since": (None if peer.connected_since is None
                            else rfc3339(peer.connected_since)),
        "recovery": None if peer.recovery is None else recovery_json(peer.recovery),
    }


def recovery_json(context: RecoveryContext) -> dict[str, Any]:
    """Attempts since the dependency last worked and its last errors, oldest first."""
    return {"attempts": context.attempts,
            "errors": [{"class": e.error_class.value, "type": e.error_type,
                        "at": rfc3339(e.at), "message": e.message}
                       for e in context.errors]}


def peers_summary(peers: Sequence[PeerInfo]) -> dict[str, Any]:
    """Counts by connection state, how many are banned, and the peers recovering."""
    by_state = Counter(p.state for p in peers)
    return {"total": len(peers), "by_state": dict(sorted(by_state.items())),
            "banned": sum(1 for p in peers if p.ban_reason is not None),
            "recovering": [_recovering_json(p.address, p.recovery) for p in peers
                           if p.recovery is not None]}


def _recovering_json(address: str, recovery: RecoveryContext) -> dict[str, Any]:
    """A peer that is failing: its attempts and its last error (all of them in
    ``/v1/peers``)."""
    last = recovery.last_error
    return {"address": address, "attempts": recovery.attempts,
            "last_error": None if last is None else {
                "class": last.error_class.value, "type": last.error_type,
                "at": rfc3339(last.at), "message": last.message}}
