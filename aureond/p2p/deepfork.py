"""Which headers are presynced before they are kept, and where they go afterwards.

The sync manager hands every run of headers to :meth:`ForkRoutes.start` first. A run is
presynced (``aureond.chain.presync``) instead of going straight into the header tree
when

* our chain is still below the network's minimum chain work: the run's chain must show
  that work first (Core's headers presync), so no low-work chain reaches the disk; or
* it forks off our best chain more than ``DEEP_FORK`` heights below our tip (at any
  depth, in the tree or only on disk): the branch must show more work than our chain
  first, since it would have to be held that long before it could win.

Released headers of a run that extends our tip go to the chain as usual. Those of a
branch go to a side file on disk (``HeaderChain.open_fork``); when the redownload has
proven the branch and it has more work than our chain, ``HeaderChain.commit_fork`` makes
it the best chain, crash-safely, and the outcome is an ordinary ``TipChanged``.

Bounds: a presync holds at most ``HeadersPresync.memory_bytes()`` (see its module: about
1.2 MB at the most, during the redownload), one per peer; its side file is deleted when
the peer goes. In-window side branches stay bounded by the sync manager's per-peer
``LOW_WORK_LIMIT``: a fork shallow enough for the tree (``DEEP_FORK`` = one
``headers`` message) wins within that limit if it has the work.
"""

from __future__ import annotations

from dataclasses import dataclass

from aureond.chain.hashing import dsha256
from aureond.chain.header import HEADER_SIZE
from aureond.chain.presync import HeadersPresync, Phase
from aureond.chain.tree import TipChanged
from aureond.clock import RandomSource
from aureond.errors import HeaderRejectedError
from aureond.p2p.interfaces import ForkChain, ForkWriter
from aureond.wire import MAX_HEADERS_RESULTS

__all__ = ["DEEP_FORK", "ForkRoutes", "PeerFork", "Step"]

DEEP_FORK = MAX_HEADERS_RESULTS
"""A fork point more than this many heights below our tip makes a deep fork."""


@dataclass(slots=True)
class PeerFork:
    """One peer's presync; ``file`` is None when released headers extend our tip."""

    presync: HeadersPresync
    file: ForkWriter | None
    low_work: bool  # started because our chain was below minimum chain work
    ask_from: bytes  # where the peer is to continue from

    @property
    def phase(self) -> Phase:
        return self.presync.phase

    def discard(self) -> None:
        if self.file is not None:
            self.file.discard()
            self.file = None


@dataclass(frozen=True, slots=True)
class Step:
    """What feeding a run did: a tip change (released headers extended our tip, or a
    branch was committed), and whether the presync just moved to its redownload."""

    change: TipChanged | None
    restarted: bool


class ForkRoutes:
    """Starts and feeds the presyncs of the sync manager's peers."""

    def __init__(self, chain: ForkChain, rng: RandomSource) -> None:
        self._chain = chain
        self._rng = rng

    def start(self, raw: bytes, name: str, now: int) -> tuple[PeerFork, bytes] | None:
        """A presync for ``raw`` (and the part of it to feed), or None: to the tree.

        Raises ``HeaderRejectedError`` for a branch forking below a checkpoint."""
        chain = self._chain
        params = chain.params
        low_work = chain.tip_chainwork < params.minimum_chain_work
        n = len(raw) // HEADER_SIZE
        off = 0
        while off < n and chain.contains(dsha256(raw[off * HEADER_SIZE:
                                                     (off + 1) * HEADER_SIZE])):
            off += 1
        if off == n:
            return None  # all known: the tree skips them
        rest = raw[off * HEADER_SIZE:]
        height = chain.height_of(rest[4:36])
        if height is None:
            return None  # unknown parent or a side branch of the tree: its business
        depth = chain.tip_height - height
        if not low_work and depth <= DEEP_FORK:
            return None
        last_cp = max((h for h in params.checkpoint_map if h <= chain.tip_height),
                      default=None)
        if last_cp is not None and height + 1 <= last_cp:
            raise HeaderRejectedError(height + 1, "prev", "fork-before-checkpoint",
                                      f"forks below the checkpoint at height {last_cp}")
        ctx = chain.context_at(height)
        target = max(params.minimum_chain_work,
                     chain.tip_chainwork + 1 if depth > 0 else 0)
        presync = HeadersPresync(params, ctx, target, salt=self._rng.randbytes(16),
                                 offset=int.from_bytes(self._rng.randbytes(4), "little"),
                                 now=now)
        file = chain.open_fork(name, height) if depth > 0 else None
        return PeerFork(presync, file, low_work, ctx.hash), rest

    def feed(self, fork: PeerFork, raw: bytes, now: int) -> Step:
        """Feed the next connected run. Raises what ``HeadersPresync.feed`` raises
        (the fork is then unchanged) and ``StoreError``."""
        was = fork.phase
        fed = fork.presync.feed(raw, now)
        if fed.ask_from is not None:
            fork.ask_from = fed.ask_from
        change: TipChanged | None = None
        if fed.released:
            if fork.file is None:
                result = self._chain.add(fed.released, now)
                if isinstance(result, TipChanged):
                    change = result
            else:
                fork.file.append(fed.released)
        if fed.phase is Phase.DONE and fork.file is not None:
            file, fork.file = fork.file, None
            if fork.presync.redownload_work > self._chain.tip_chainwork:
                change = self._chain.commit_fork(file)
            else:
                file.discard()  # our chain grew meanwhile; the branch no longer wins
        return Step(change, was is Phase.PRESYNC and fed.phase is Phase.REDOWNLOAD)
