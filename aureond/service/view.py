"""The running node as the HTTP API sees it: ``NodeView`` over the live components."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aureond import __version__
from aureond.api.readiness import assess_sync
from aureond.api.view import HeaderInfo, PeerInfo, SyncInfo, TipInfo
from aureond.chain.header import BlockHeader
from aureond.clock import Clock
from aureond.monitoring.health import HealthDashboard, HealthReport
from aureond.p2p.headerchain import HeaderChain
from aureond.p2p.interfaces import Breaker
from aureond.p2p.manager import ConnState
from aureond.p2p.node import P2PProtocol
from aureond.resilience.recovery import RecoveryContext
from aureond.store.peers import PeerAddress, PeerBook

__all__ = ["DaemonView"]


class DaemonView:
    """Reads live state; every method is synchronous and cheap."""

    def __init__(self, *, network: str, chain: HeaderChain, protocol: P2PProtocol,
                 peerbook: PeerBook, dashboard: HealthDashboard, clock: Clock,
                 breaker_of: Callable[[PeerAddress], Breaker | None],
                 connected_at: dict[int, float], started: float,
                 recovery_of: Callable[[PeerAddress], RecoveryContext | None] | None = None
                 ) -> None:
        self._network = network
        self._chain = chain
        self._protocol = protocol
        self._peerbook = peerbook
        self._dashboard = dashboard
        self._clock = clock
        self._breaker_of = breaker_of
        self._started = started
        self._connected_since = connected_at
        self._recovery_of = recovery_of if recovery_of is not None else _no_recovery

    @property
    def network(self) -> str:
        return self._network

    @property
    def version(self) -> str:
        return __version__

    def uptime_seconds(self) -> float:
        return max(0.0, self._clock.monotonic() - self._started)

    def tip(self) -> TipInfo:
        c = self._chain
        return TipInfo(c.tip_height, c.tip_hash, c.tip_chainwork, c.tip_time)

    def header_at(self, height: int) -> HeaderInfo | None:
        header = self._chain.header_at(height)
        return None if header is None else HeaderInfo(header, height, True)

    def header_by_hash(self, block_hash: bytes) -> HeaderInfo | None:
        height = self._chain.height_of(block_hash)
        if height is not None:
            header = self._chain.header_at(height)
            return None if header is None else HeaderInfo(header, height, True)
        node = self._chain.tree.get(block_hash)
        if node is None:
            return None
        return HeaderInfo(BlockHeader.parse(node.raw), node.height, False)

    def connected_peers(self) -> int:
        return self._protocol.manager.counts()[ConnState.ESTABLISHED]

    def best_peer_height(self) -> int | None:
        if self.connected_peers() == 0:
            return None
        best = self._protocol.sync.best_peer_height
        return best if best > 0 else None

    def sync(self) -> SyncInfo:
        now = self._clock.wall()
        status = self._protocol.status(now)
        return assess_sync(tip_height=self._chain.tip_height, tip_time=self._chain.tip_time,
                           best_peer_height=self.best_peer_height(),
                           connected_peers=self.connected_peers(), now=now,
                           progressing=status.sync_peer is not None)

    def peers(self) -> Sequence[PeerInfo]:
        out: list[PeerInfo] = []
        now = self._clock.wall()
        seen: set[PeerAddress] = set()
        for summary in self._protocol.peers():
            address = summary.peer.address
            seen.add(address)
            record = self._peerbook.get(address)
            breaker = self._breaker_of(address)
            ban = self._peerbook.ban_info(address, now)
            out.append(PeerInfo(
                slot=summary.peer.slot, address=str(address), state=summary.state.value,
                breaker=_breaker_state(breaker),
                score=record.score if record is not None else 0.0,
                ban_reason=ban.reason if ban else None,
                ban_expires=ban.until if ban else None,
                user_agent=summary.user_agent, start_height=summary.height,
                connected_since=self._connected_since.get(summary.peer.slot),
                recovery=self._recovery_of(address)))
        for address in self._protocol.manager.addresses():
            breaker = self._breaker_of(address)
            if address in seen or breaker is None:
                continue
            ban = self._peerbook.ban_info(address, now)
            record = self._peerbook.get(address)
            out.append(PeerInfo(slot=0, address=str(address), state="idle",
                                breaker=_breaker_state(breaker),
                                score=record.score if record is not None else 0.0,
                                ban_reason=ban.reason if ban else None,
                                ban_expires=ban.until if ban else None,
                                recovery=self._recovery_of(address)))
        return out

    def health(self) -> HealthReport:
        return self._dashboard.evaluate()


def _no_recovery(_address: PeerAddress) -> RecoveryContext | None:
    return None


def _breaker_state(breaker: Breaker | None) -> str:
    state = getattr(breaker, "state", None)
    value = getattr(state, "value", None)
    return value if isinstance(value, str) else "closed"
