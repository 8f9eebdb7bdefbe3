"""The block hook of the P2P core: the state driver's wants in, verified blocks out.

:class:`BlockFeed` sits between the state driver and a
:class:`~aureond.state.blockfetch.BlockFetcher` (which checks every block against the
header WE validated): it queues the driver's wants until the P2P core next calls into
the hook, and hands verified blocks back as they arrive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from aureond.chain.header import BlockHeader
from aureond.p2p.actions import Action
from aureond.p2p.events import PeerId
from aureond.state.blockfetch import BlockFetcher, FetchedBlock
from aureond.wire import Message

__all__ = ["BlockFeed"]


def _nothing() -> None:
    return None


class BlockFeed:
    """The block hook of the P2P core (``P2PProtocol(blocks=...)``) around a fetcher.

    The fetcher's :meth:`~BlockFetcher.want` returns requests, and the P2P driver only
    carries out what the core returns; so wants made outside the core are queued here
    and given to the fetcher on the core's next call into the hook (at the latest the
    next ``Tick``). Verified blocks are taken out of the fetcher as they arrive (they
    are bounded by the consumer's want window) and ``on_wake`` is called; it is also
    called on every tick, the consumer's heartbeat.
    """

    def __init__(self, fetcher: BlockFetcher, on_wake: Callable[[], None] = _nothing) -> None:
        self.fetcher = fetcher
        self.on_wake = on_wake
        self._queued: dict[bytes, tuple[int, BlockHeader]] = {}
        self._ready: list[FetchedBlock] = []

    # --- the consumer's side ------------------------------------------------------

    def want(self, items: Iterable[tuple[int, BlockHeader]]) -> None:
        for height, header in items:
            self._queued.setdefault(header.hash, (height, header))

    def cancel_above(self, height: int) -> None:
        self._queued = {k: v for k, v in self._queued.items() if v[0] <= height}
        self._ready = [f for f in self._ready if f.height <= height]
        self.fetcher.cancel_above(height)

    def take(self) -> list[FetchedBlock]:
        out, self._ready = self._ready, []
        return out

    @property
    def in_flight(self) -> int:
        return self.fetcher.in_flight

    # --- the P2P core's side ------------------------------------------------------

    def peer_ready(self, peer: PeerId, now: float) -> list[Action]:
        return self.fetcher.peer_ready(peer, now) + self._flush(now)

    def peer_gone(self, peer: PeerId, now: float) -> list[Action]:
        return self.fetcher.peer_gone(peer, now) + self._flush(now)

    def on_message(self, peer: PeerId, message: Message, now: float) -> list[Action]:
        out = self.fetcher.on_message(peer, message, now) + self._flush(now)
        got = self.fetcher.pop_ready()
        if got:
            self._ready.extend(got)
            self.on_wake()
        return out

    def tick(self, now: float) -> list[Action]:
        out = self._flush(now) + self.fetcher.tick(now)
        self._ready.extend(self.fetcher.pop_ready())
        self.on_wake()
        return out

    def _flush(self, now: float) -> list[Action]:
        if not self._queued:
            return []
        items = list(self._queued.values())
        self._queued.clear()
        return self.fetcher.want(items, now)

