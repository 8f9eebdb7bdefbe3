"""What the HTTP API needs from the running node, and nothing more.

The routes see the node only through :class:`NodeView`. Every method is synchronous and
cheap (it reads state the node already holds; no I/O on the event loop beyond what the
header store's lookups do), and everything it returns is a frozen value, so a handler
works on a consistent snapshot without locks. The daemon implements the protocol; the
tests use a fake. The ban list is its own, optional, area (:class:`BanView`): lifting a
ban writes, so that one method is a coroutine whose write runs off the loop.

Hashes are wire-order ``bytes`` here; display hex exists only in the JSON the routes
write. Times are Unix seconds (wall clock).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from aureond.chain.header import BlockHeader
from aureond.monitoring.health import HealthReport
from aureond.p2p.actions import SyncState
from aureond.resilience.recovery import RecoveryContext

__all__ = [
    "BanInfo",
    "BanView",
    "HeaderInfo",
    "MAX_HEIGHT",
    "NodeView",
    "PeerInfo",
    "SyncInfo",
    "SyncState",
    "TipInfo",
]

MAX_HEIGHT = 0x7FFFFFFF
"""No block height is above this; the API answers such heights without asking the view."""


@dataclass(frozen=True, slots=True)
class TipInfo:
    """The tip of our best chain."""

    height: int
    hash: bytes
    chainwork: int
    """Total work of the best chain up to and including the tip."""
    time: int
    """The tip header's timestamp (Unix seconds)."""


@dataclass(frozen=True, slots=True)
class HeaderInfo:
    """A header we hold, where it sits, and whether it is on our best chain."""

    header: BlockHeader
    height: int
    on_best_chain: bool


@dataclass(frozen=True, slots=True)
class SyncInfo:
    """The sync state; ``reasons`` say why the node is not ready (empty when it is)."""

    state: SyncState
    progress: float | None
    """Fraction of the best known height reached, in [0, 1]; None (unknown) while no
    connected peer has told us its height."""
    reasons: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        return self.state is SyncState.SYNCED and not self.reasons


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """One peer slot as an operator may see it (never secrets or keys)."""

    slot: int
    address: str
    """``host:port`` as text."""
    state: str
    """Connection state, a short tag (``connecting``, ``handshake``, ``active``, ...)."""
    breaker: str
    """Circuit breaker state: ``closed``, ``open`` or ``half_open``."""
    score: float
    ban_reason: str | None = None
    ban_expires: float | None = None
    """Unix time the ban ends, when banned."""
    user_agent: str | None = None
    start_height: int | None = None
    connected_since: float | None = None
    """Unix time the connection was established, when connected."""
    recovery: RecoveryContext | None = None
    """Failed connection attempts since the address last worked (None: it works)."""


@dataclass(frozen=True, slots=True)
class BanInfo:
    """A banned peer address: why, since when and until when (Unix seconds)."""

    address: str
    """``host:port`` as text (``[v6]:port`` for IPv6)."""
    reason: str
    """What it did, a short tag (``invalid-headers:high-hash``, ``bad-block``...)."""
    since: float
    until: float


class NodeView(Protocol):
    """The running node as the HTTP API sees it (see the module docstring)."""

    @property
    def network(self) -> str:
        """The network name (``mainnet``, ``testnet4``, ...)."""
        ...

    @property
    def version(self) -> str:
        """The aureond version string."""
        ...

    def uptime_seconds(self) -> float:
        """Seconds since the node started."""
        ...

    def tip(self) -> TipInfo:
        """The tip of the best chain."""
        ...

    def header_at(self, height: int) -> HeaderInfo | None:
        """The best-chain header at ``height`` (None above the tip or below the anchor)."""
        ...

    def header_by_hash(self, block_hash: bytes) -> HeaderInfo | None:
        """The header with ``block_hash`` (wire order), on the best chain or a side branch
        we still hold; None when unknown."""
        ...

    def best_peer_height(self) -> int | None:
        """The highest start or announced height among connected peers (None: no peer)."""
        ...

    def sync(self) -> SyncInfo:
        """The sync state and readiness; :func:`aureond.api.readiness.assess_sync`
        implements the contract's rules from the raw figures."""
        ...

    def peers(self) -> Sequence[PeerInfo]:
        """Every peer slot, connected or not, and the banned peers."""
        ...

    def health(self) -> HealthReport:
        """One evaluation of the node's ``HealthDashboard`` (sync, peers, store, error
        rate, event-loop lag; see :mod:`aureond.monitoring.checks`)."""
        ...


class BanView(Protocol):
    """The node's persistent ban list, as ``/v1/peers/bans`` sees it."""

    def bans(self) -> Sequence[BanInfo]:
        """The bans in force, the soonest to expire first."""
        ...

    async def unban(self, host: str, port: int | None) -> Sequence[BanInfo]:
        """Lift the ban of ``host:port`` (of every port of ``host`` when ``port`` is
        None) and return the bans lifted (empty: none matched). The node stops refusing
        the address at once and may dial it again; the answer comes once the change is
        on disk (written off the event loop). Raises ``ValueError`` for a host that is
        not one, ``StoreError`` when the change could not be saved (it holds until a
        restart)."""
        ...
