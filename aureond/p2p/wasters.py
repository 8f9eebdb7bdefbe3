"""Peers that waste our time: claims they do not deliver, headers we already have.

The sync manager keeps, per address (bounded, the oldest forgotten first):

* the height a peer claimed and then did not deliver (it stalled, or answered our
  ``getheaders`` with headers that do not connect): when it comes back claiming no more
  than that, the claim is not believed (it neither wins the sync slot nor keeps
  ``/health`` warning that we are behind) until its headers show it;
* how often it was dropped for sending nothing but headers we already have
  (``MAX_USELESS`` full batches in a row): from the ``BAN_AFTER`` th time it is banned.
"""

from __future__ import annotations

from collections import OrderedDict

from aureond.store.peers import PeerAddress

__all__ = ["BAN_AFTER", "MAX_USELESS", "REMEMBERED", "Wasters"]

MAX_USELESS = 3
"""Full ``headers`` batches in a row with nothing new before the peer is dropped."""
BAN_AFTER = 2
"""Drops for useless headers of one address after which it is banned."""
REMEMBERED = 1024
"""Addresses remembered, each way."""


class Wasters:
    """What the sync manager remembers of peers that wasted its time."""

    def __init__(self, remembered: int = REMEMBERED) -> None:
        self._max = remembered
        self._failed_claims: OrderedDict[PeerAddress, int] = OrderedDict()
        self._useless_drops: OrderedDict[PeerAddress, int] = OrderedDict()

    def claim_failed(self, address: PeerAddress, height: int) -> None:
        """``address`` claimed ``height`` and did not deliver it."""
        self._remember(self._failed_claims, address,
                       max(height, self._failed_claims.get(address, 0)))

    def believable(self, address: PeerAddress, claim: int) -> bool:
        """Whether a claim of ``claim`` from ``address`` goes beyond what it failed."""
        failed = self._failed_claims.get(address)
        return failed is None or claim > failed

    def useless_drop(self, address: PeerAddress) -> bool:
        """Count a drop for useless headers; True when the address is to be banned."""
        count = self._useless_drops.get(address, 0) + 1
        self._remember(self._useless_drops, address, count)
        return count >= BAN_AFTER

    def _remember(self, table: OrderedDict[PeerAddress, int], address: PeerAddress,
                  value: int) -> None:
        table.pop(address, None)
        table[address] = value
        while len(table) > self._max:
            table.popitem(last=False)
