"""What the P2P core needs from its collaborators, as structural interfaces.

``HeaderChain`` (``aureond.p2p.headerchain``), ``PeerBook`` (``aureond.store.peers``) and
``CircuitBreaker`` (``aureond.resilience``) satisfy these; tests use small fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from aureond.chain.context import ChainContext
from aureond.chain.params import NetworkParams
from aureond.chain.tree import AddResult, TipChanged
from aureond.store.peers import PeerAddress

__all__ = ["BackoffSchedule", "BanList", "Breaker", "BreakerFactory", "ChainView", "ForkChain",
           "ForkWriter"]


class ChainView(Protocol):
    """The validated header chain the sync manager feeds.

    ``add`` raises ``HeaderRejectedError`` (the peer sent invalid headers),
    ``UnconnectedHeadersError`` (their parent is unknown) or ``EncodingError``.
    """

    @property
    def params(self) -> NetworkParams: ...

    @property
    def tip_height(self) -> int: ...

    @property
    def tip_hash(self) -> bytes: ...

    @property
    def tip_chainwork(self) -> int: ...

    @property
    def tip_time(self) -> int: ...

    def add(self, raw_headers: bytes, now: int) -> AddResult: ...

    def locator(self) -> list[bytes]: ...

    def contains(self, block_hash: bytes) -> bool: ...

    def height_of(self, block_hash: bytes) -> int | None: ...

    def expect_height(self, height: int, now: float) -> None:
        """A hint: a peer that has just extended our chain says its chain reaches
        ``height``. The chain may prepare room for it (bounded, since the peer may
        lie); it changes no state."""


class ForkWriter(Protocol):
    """A side file of a branch (``aureond.store.forkfile.ForkFile``)."""

    @property
    def fork_height(self) -> int: ...

    def append(self, raw: bytes) -> None: ...

    def discard(self) -> None: ...


class ForkChain(ChainView, Protocol):
    """What deep forks need from the chain beyond the sync manager's view."""

    def context_at(self, height: int) -> ChainContext: ...

    def open_fork(self, name: str, fork_height: int) -> ForkWriter: ...

    def commit_fork(self, fork: ForkWriter) -> TipChanged: ...


class BanList(Protocol):
    """Persistent bans (``PeerBook``): consulted before connecting to an address."""

    def is_banned(self, address: PeerAddress, now: float | None = None) -> bool: ...


class Breaker(Protocol):
    """A circuit breaker's synchronous API: ``allow()``, then exactly one outcome."""

    def allow(self) -> bool: ...

    def record_success(self) -> None: ...

    def record_failure(self) -> None: ...

    def release(self) -> None: ...


BreakerFactory = Callable[[str], Breaker]
"""Makes the breaker of one address; the argument is a bounded name (``"peer-3"``)."""

BackoffSchedule = Callable[[int], float]
"""Seconds to wait before the next attempt after ``n`` (>= 1) failures in a row."""
