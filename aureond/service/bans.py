"""The node's ban list as the HTTP API sees it (``BanView``), over the peer book.

Lifting a ban touches three places, in this order: the peer book (the persistent
list, consulted before every dial), the P2P core (its own copy of the ban, and the
address's reconnect backoff: ``lift`` delivers ``BanLifted``, so the address may be
dialled at once), and the disk (``persist`` waits for the book's writer).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aureond.api.view import BanInfo
from aureond.store.peers import Ban, PeerAddress, PeerBook

__all__ = ["NodeBans"]


class NodeBans:
    """``BanView`` over ``book``; see the module docstring."""

    def __init__(self, book: PeerBook, *, lift: Callable[[PeerAddress], None],
                 persist: Callable[[], Awaitable[None]]) -> None:
        self._book = book
        self._lift = lift
        self._persist = persist

    def bans(self) -> list[BanInfo]:
        return [_info(b) for b in self._book.bans()]

    async def unban(self, host: str, port: int | None) -> list[BanInfo]:
        """Lift the bans of ``host:port`` (every port of ``host`` when None); the host
        is compared as the book keeps it (IP literals normalised, names lower-case).
        Raises ``ValueError`` for a host that is not one, ``StoreError`` when the
        change could not be saved."""
        wanted = PeerAddress(host, port if port is not None else 1).host
        lifted: list[Ban] = []
        for ban in self._book.bans():
            if (ban.address.host == wanted and port in (None, ban.address.port)
                    and self._book.unban(ban.address) is not None):
                lifted.append(ban)
        for ban in lifted:
            self._lift(ban.address)
        if lifted:
            await self._persist()
        return [_info(b) for b in lifted]


def _info(ban: Ban) -> BanInfo:
    return BanInfo(str(ban.address), ban.reason, ban.since, ban.until)
