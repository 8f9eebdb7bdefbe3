"""The header tree: every known branch above a root, and fork choice by most work.

The tree holds a bounded window of recent headers (``window`` heights below the best
tip; older ones are the store's business) plus side branches. Adding headers returns a
typed result: ``TipChanged`` with the reverted and connected nodes (a plain extension
reverts nothing), or ``TipUnchanged`` when the headers built a side branch with no more
work than the best chain. Equal work keeps the chain seen first.

Nodes are light (raw bytes, hash, height, work, parent); the validation context of a
node is rebuilt from its ancestors when a header forks off the middle of a branch,
which the window (at least one retarget period) always allows.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, repeat
from operator import attrgetter, itemgetter
from typing import NamedTuple

from aureond.chain.batch import validate_batch
from aureond.chain.context import MTP_WINDOW, ChainContext
from aureond.chain.hashing import dsha256
from aureond.chain.header import HEADER_SIZE, BlockHeader
from aureond.chain.locator import locator_heights
from aureond.chain.params import NetworkParams
from aureond.errors import HeaderRejectedError, UnconnectedHeadersError

__all__ = ["AddResult", "HeaderTree", "Node", "TipChanged", "TipUnchanged"]

_RECORD = struct.Struct(f"{HEADER_SIZE}s")
_hash_of = attrgetter("hash")
_new_tuple = tuple.__new__


class Node(NamedTuple):
    """A header in the tree. ``raw`` is the 80-byte wire header.

    A named tuple rather than a frozen dataclass: the sync creates one per header,
    and a tuple is built in C (``tuple.__new__`` over the batch, in ``add``) at a
    fifth of a dataclass ``__init__``'s cost."""

    raw: bytes
    hash: bytes
    height: int
    chainwork: int

    @property
    def prev_hash(self) -> bytes:
        return self.raw[4:36]

    @property
    def time(self) -> int:
        return int.from_bytes(self.raw[68:72], "little")

    @property
    def bits(self) -> int:
        return int.from_bytes(self.raw[72:76], "little")

    @property
    def header(self) -> BlockHeader:
        return BlockHeader.parse(self.raw)


@dataclass(frozen=True, slots=True)
class TipChanged:
    """The best tip moved. ``reverted`` runs from the old tip down to the fork point
    (exclusive); ``connected`` from just above the fork point up to the new tip."""

    reverted: tuple[Node, ...]
    connected: tuple[Node, ...]
    tip: Node

    @property
    def is_reorg(self) -> bool:
        return bool(self.reverted)

    @property
    def depth(self) -> int:
        return len(self.reverted)

    @property
    def fork_height(self) -> int:
        return self.connected[0].height - 1


@dataclass(frozen=True, slots=True)
class TipUnchanged:
    """The headers were valid and stored on a side branch (or were known already)."""

    added: tuple[Node, ...]
    tip: Node


AddResult = TipChanged | TipUnchanged


class HeaderTree:
    """Branches above a trusted root, with the best (most-work) chain indexed by height."""

    def __init__(self, params: NetworkParams, root: ChainContext, root_raw: bytes,
                 *, window: int | None = None, prune_slack: int = 0) -> None:
        """``window``: keep this many heights below the tip (None: keep everything).
        ``prune_slack``: let the tree run that many heights past the window before
        pruning back to it, so the O(window) prune runs once per ``prune_slack``
        headers instead of on every add."""
        if len(root_raw) != HEADER_SIZE:
            raise ValueError("root_raw must be an 80-byte header")
        if window is not None and window < params.retarget_interval + MTP_WINDOW:
            raise ValueError("window must hold at least one retarget period")
        self._params = params
        if prune_slack < 0:
            raise ValueError("prune_slack must not be negative")
        self._window = window
        self._prune_slack = prune_slack
        self._root = Node(root_raw, root.hash, root.height, root.chainwork)
        self._root_ctx = root
        self._nodes: dict[bytes, Node] = {root.hash: self._root}
        self._best: list[bytes] = [root.hash]  # hash at height base + i
        self._base = root.height
        self._contexts: dict[bytes, ChainContext] = {root.hash: root}

    # --- queries ----------------------------------------------------------------

    @property
    def params(self) -> NetworkParams:
        return self._params

    @property
    def tip(self) -> Node:
        return self._nodes[self._best[-1]]

    @property
    def tip_context(self) -> ChainContext:
        return self.context_of(self._best[-1])

    @property
    def window(self) -> int | None:
        return self._window

    @property
    def base_height(self) -> int:
        return self._base

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, block_hash: object) -> bool:
        return block_hash in self._nodes

    def get(self, block_hash: bytes) -> Node | None:
        return self._nodes.get(block_hash)

    def best_at(self, height: int) -> Node | None:
        """The best-chain node at ``height`` (within the window)."""
        i = height - self._base
        if 0 <= i < len(self._best):
            return self._nodes[self._best[i]]
        return None

    def on_best_chain(self, block_hash: bytes) -> bool:
        node = self._nodes.get(block_hash)
        return node is not None and self.best_at(node.height) is node

    def best_chain(self) -> Iterator[Node]:
        return (self._nodes[h] for h in self._best)

    def locator(self) -> list[bytes]:
        """A block locator over the window (Bitcoin Core's spacing), ending at the root."""
        return [self._best[h - self._base]
                for h in locator_heights(self._base + len(self._best) - 1, self._base)]

    # --- contexts ---------------------------------------------------------------

    def context_of(self, block_hash: bytes) -> ChainContext:
        """The validation context with ``block_hash`` as tip (rebuilt if not cached).

        Walks back to the nearest cached context, or to a retarget boundary with a full
        median-time-past window behind it, then advances forward again.
        """
        interval = self._params.retarget_interval
        chain: list[Node] = []
        cur = self._nodes[block_hash]
        while True:
            cached = self._contexts.get(cur.hash)
            if cached is not None:
                base = cached
                break
            if cur.height % interval == 0 and len(chain) >= MTP_WINDOW:
                base = self._boundary_context(cur)
                break
            chain.append(cur)
            parent = self._nodes.get(cur.prev_hash)
            if parent is None:
                raise UnconnectedHeadersError(cur.prev_hash)
            cur = parent
        for n in reversed(chain):
            base = base.advance(self._params, n, n.chainwork - base.chainwork)
        return base

    def _boundary_context(self, start: Node) -> ChainContext:
        times: list[int] = []
        cur: Node | None = self._nodes.get(start.prev_hash)
        while cur is not None and len(times) < MTP_WINDOW - 1:
            times.append(cur.time)
            cur = self._nodes.get(cur.prev_hash)
        times.reverse()
        times.append(start.time)
        return ChainContext(start.height, start.hash, start.time, start.bits,
                            start.chainwork, tuple(times), start.time, start.bits,
                            start.bits)

    # --- adding -----------------------------------------------------------------

    def add(self, headers: Sequence[BlockHeader] | bytes, now: int) -> AddResult:
        """Validate and add connected headers (a chain, first one's parent known)."""
        raw = (headers if isinstance(headers, bytes)
               else b"".join(h.serialize() for h in headers))
        if not raw:
            return TipUnchanged((), self.tip)
        prev = raw[4:36]
        parent = self._nodes.get(prev)
        if parent is None:
            raise UnconnectedHeadersError(prev)
        # Skip headers we already have (peers resend overlapping runs).
        offset = 0
        while offset < len(raw):
            h = self._hash_of_known(raw[offset:offset + HEADER_SIZE])
            if h is None:
                break
            parent = self._nodes[h]
            offset += HEADER_SIZE
        raw = raw[offset:]
        if not raw:
            return TipUnchanged((), self.tip)
        if raw[4:36] != parent.hash:
            raise HeaderRejectedError(parent.height + 1, "prev", "bad-prevblk",
                                      "headers in a message do not link to each other")
        self._check_fork_point(parent)
        ctx = self.context_of(parent.hash)
        result = validate_batch(self._params, ctx, raw, now)
        first = parent.height + 1
        works = accumulate(result.works, initial=parent.chainwork)
        next(works)  # the parent's own
        added = list(map(_new_tuple, repeat(Node), zip(
            map(itemgetter(0), _RECORD.iter_unpack(raw)), result.hashes,
            range(first, first + result.count), works, strict=True)))
        self._nodes.update(zip(result.hashes, added, strict=True))
        new_tip = added[-1]
        self._contexts[new_tip.hash] = result.context
        if parent is not self._root:
            self._contexts.pop(parent.hash, None)
        if new_tip.chainwork <= self.tip.chainwork:
            return TipUnchanged(tuple(added), self.tip)
        return self._switch_to(new_tip, added)

    def _hash_of_known(self, raw: bytes) -> bytes | None:
        h = dsha256(raw)
        return h if h in self._nodes else None

    def _check_fork_point(self, parent: Node) -> None:
        if self.on_best_chain(parent.hash) and parent is self.tip:
            return
        last_cp = max((h for h in self._params.checkpoint_map if h <= self.tip.height),
                      default=None)
        if last_cp is not None and parent.height + 1 <= last_cp:
            raise HeaderRejectedError(parent.height + 1, "prev", "fork-before-checkpoint",
                                      f"forks below the checkpoint at height {last_cp}")

    def _switch_to(self, new_tip: Node, added: list[Node]) -> TipChanged:
        if added[0].prev_hash == self._best[-1]:
            # Extends the tip (the sync's case): nothing to walk or revert.
            self._best.extend(map(_hash_of, added))
            self._prune()
            return TipChanged((), tuple(added), new_tip)
        # Walk the new branch down to the best chain.
        branch: list[Node] = []
        cur = new_tip
        while not self.on_best_chain(cur.hash):
            branch.append(cur)
            cur = self._nodes[cur.prev_hash]
        fork = cur
        branch.reverse()
        cut = fork.height - self._base + 1
        reverted = tuple(self._nodes[h] for h in reversed(self._best[cut:]))
        del self._best[cut:]
        self._best.extend(map(_hash_of, branch))
        self._prune()
        return TipChanged(reverted, tuple(branch), new_tip)

    def _prune(self) -> None:
        """Drop nodes more than ``window`` heights below the tip (and their branches).

        With a prune slack the new root is the highest retarget boundary at least
        ``window`` below the tip, whose context is read off the nodes around it instead
        of being advanced header by header from the old root."""
        if self._window is None:
            return
        span = len(self._best) - 1
        if span <= self._window + self._prune_slack:
            return
        drop = span - self._window
        if self._prune_slack:
            drop -= (self._base + drop) % self._params.retarget_interval
            if drop < MTP_WINDOW:
                return  # the boundary's median-time-past needs its ancestors
            new_root_hash = self._best[drop]
            root_ctx = self._boundary_context(self._nodes[new_root_hash])
        else:
            new_root_hash = self._best[drop]
            # Rebuild the root context before forgetting its ancestors.
            root_ctx = self.context_of(new_root_hash)
        cut_height = self._base + drop
        side_nodes = len(self._nodes) - len(self._best)
        deque(map(self._nodes.__delitem__, self._best[:drop]), maxlen=0)
        self._best = self._best[drop:]
        self._base = cut_height
        self._root = self._nodes[new_root_hash]
        self._root_ctx = root_ctx
        if side_nodes:
            # Side branches forking below the new root can never be extended now.
            self._nodes = {h: n for h, n in self._nodes.items()
                           if n.height > cut_height or h == new_root_hash}
        self._contexts = {h: c for h, c in self._contexts.items() if h in self._nodes}
        self._contexts[new_root_hash] = root_ctx
