"""Full-block download for the scanner: sans-I/O, several peers, bounded, verified.

The caller says which blocks it wants (:meth:`BlockFetcher.want`: height and the header
WE validated for each). The fetcher spreads ``getdata`` (``MSG_BLOCK``, plain blocks:
the scan reads no witness) over the established peers, at most
``MAX_IN_FLIGHT_PER_PEER`` per peer and ``MAX_BUFFERED`` requested-or-waiting blocks in
all, so memory stays bounded however far behind the ledger is. Each ``block`` payload
is parsed and checked against our header (:func:`~aureond.state.scanner.check_block`):

* a payload that does not parse, or a block that does not match our header (another
  block, transactions that do not hash to the merkle root, a mutated tree): the peer is
  disconnected and banned (``bad-block``) and the block asked of another peer;
* no answer within ``BLOCK_TIMEOUT`` or a ``notfound``: the block goes to another peer,
  and a peer that stalls ``MAX_STALLS`` times in a row is dropped (not banned);
* a peer with blocks in flight is topped up only once half its slots are free, so each
  ``getdata`` asks for several blocks (the per-peer send rate limit then caps messages,
  not blocks);
* a block nobody asked for is ignored; a wanted block is taken from whichever peer
  delivers it first (a late answer after a timeout still counts).

Verified blocks wait in :meth:`pop_ready` in height order. The P2P core feeds it
through its block hook (``P2PProtocol(blocks=...)``); every method returns the
actions to carry out, like the other managers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from aureond.chain.header import BlockHeader
from aureond.chain.tx import Block, parse_block
from aureond.errors import EncodingError
from aureond.p2p.actions import Action, Disconnect, PeerMisbehaved, Send
from aureond.p2p.events import PeerId
from aureond.p2p.syncpeer import DEFAULT_BAN_SECONDS
from aureond.state.errors import BlockMismatchError
from aureond.state.scanner import check_block
from aureond.wire import GetData, InvType, InvVector, Message, NotFound, Unknown

__all__ = ["BLOCK_TIMEOUT", "MAX_BUFFERED", "MAX_IN_FLIGHT_PER_PEER", "MAX_STALLS",
           "BlockFetcher", "FetchedBlock"]

#: Seconds a peer has to deliver a requested block.
BLOCK_TIMEOUT = 60.0
#: Blocks requested from one peer at a time.
MAX_IN_FLIGHT_PER_PEER = 8
#: Blocks in flight plus verified-but-not-taken, over all peers (memory bound).
MAX_BUFFERED = 64
#: Timeouts in a row after which a peer is dropped.
MAX_STALLS = 3


@dataclass(frozen=True, slots=True)
class FetchedBlock:
    """A downloaded block that matches our header at ``height``."""

    height: int
    block: Block


@dataclass(slots=True)
class _Wanted:
    height: int
    header: BlockHeader
    peer: PeerId | None = None
    sent_at: float = 0.0
    tried: set[PeerId] = field(default_factory=set)


@dataclass(slots=True)
class _Peer:
    in_flight: int = 0
    stalls: int = 0


class BlockFetcher:
    """See the module docstring."""

    def __init__(self, *, ban_seconds: int = DEFAULT_BAN_SECONDS,
                 max_in_flight: int = MAX_IN_FLIGHT_PER_PEER,
                 max_buffered: int = MAX_BUFFERED, timeout: float = BLOCK_TIMEOUT) -> None:
        self.ban_seconds = ban_seconds
        self.max_in_flight = max_in_flight
        self._refill_at = max(1, max_in_flight // 2)
        self.max_buffered = max_buffered
        self.timeout = timeout
        self._wanted: dict[bytes, _Wanted] = {}
        self._peers: dict[PeerId, _Peer] = {}
        self._ready: dict[bytes, FetchedBlock] = {}
        self.bad_blocks = 0

    # --- the consumer's side ------------------------------------------------------

    def want(self, items: Iterable[tuple[int, BlockHeader]], now: float) -> list[Action]:
        """Ask for these blocks (height, our header); returns the requests to send."""
        for height, header in items:
            if header.hash not in self._wanted and header.hash not in self._ready:
                self._wanted[header.hash] = _Wanted(height, header)
        return self._schedule(now)

    def cancel_above(self, height: int) -> None:
        """Forget wanted and ready blocks above ``height`` (their branch was reorged away);
        answers still in flight are then ignored."""
        for h, w in list(self._wanted.items()):
            if w.height > height:
                self._release(w)
                del self._wanted[h]
        for h, f in list(self._ready.items()):
            if f.height > height:
                del self._ready[h]

    def pop_ready(self) -> list[FetchedBlock]:
        """Every verified block not yet taken, lowest height first."""
        out = sorted(self._ready.values(), key=lambda f: f.height)
        self._ready.clear()
        return out

    @property
    def in_flight(self) -> int:
        return sum(p.in_flight for p in self._peers.values())

    @property
    def pending(self) -> int:
        """Blocks wanted and not delivered yet."""
        return len(self._wanted)

    # --- the P2P core's side (the block hook) -------------------------------------

    def peer_ready(self, peer: PeerId, now: float) -> list[Action]:
        self._peers.setdefault(peer, _Peer())
        return self._schedule(now)

    def peer_gone(self, peer: PeerId, now: float) -> list[Action]:
        if self._peers.pop(peer, None) is None:
            return []
        for w in self._wanted.values():
            if w.peer == peer:
                w.peer = None
        return self._schedule(now)

    def on_message(self, peer: PeerId, message: Message, now: float) -> list[Action]:
        """A ``block`` (raw, undecoded by the wire layer) or a ``notfound``."""
        if isinstance(message, NotFound):
            for item in message.items:
                w = self._wanted.get(item.hash)
                if w is not None and w.peer == peer:
                    self._release(w)
            return self._schedule(now)
        if isinstance(message, Unknown) and message.command == "block":
            return self._on_block(peer, message.payload, now)
        return []

    def tick(self, now: float) -> list[Action]:
        out: list[Action] = []
        for w in self._wanted.values():
            if w.peer is not None and now - w.sent_at >= self.timeout:
                state = self._peers.get(w.peer)
                stalled = w.peer
                self._release(w)
                if state is not None:
                    state.stalls += 1
                    if state.stalls == MAX_STALLS:
                        out.append(Disconnect(stalled, "block-stalled"))
        return out + self._schedule(now)

    # --- internals ----------------------------------------------------------------

    def _release(self, w: _Wanted) -> None:
        if w.peer is not None:
            state = self._peers.get(w.peer)
            if state is not None:
                state.in_flight -= 1
            w.tried.add(w.peer)
            w.peer = None

    def _on_block(self, peer: PeerId, payload: bytes, now: float) -> list[Action]:
        try:
            block = parse_block(payload)
        except EncodingError:
            return self._punish(peer, None, now)
        w = self._wanted.get(block.header.hash)
        if w is None:
            return []  # unsolicited, or cancelled by a reorg
        try:
            check_block(block, w.header)
        except BlockMismatchError:
            return self._punish(peer, w, now)
        self._release(w)
        state = self._peers.get(peer)
        if state is not None:
            state.stalls = 0
        del self._wanted[block.header.hash]
        self._ready[block.header.hash] = FetchedBlock(w.height, block)
        return self._schedule(now)

    def _punish(self, peer: PeerId, w: _Wanted | None, now: float) -> list[Action]:
        self.bad_blocks += 1
        if w is not None:
            self._release(w)
        for other in self._wanted.values():
            if other.peer == peer:
                other.peer = None
        self._peers.pop(peer, None)
        return [PeerMisbehaved(peer, "bad-block", 100),
                Disconnect(peer, "bad-block", self.ban_seconds), *self._schedule(now)]

    def _schedule(self, now: float) -> list[Action]:
        budget = self.max_buffered - self.in_flight - len(self._ready)
        if budget <= 0 or not self._peers:
            return []
        batches: dict[PeerId, list[bytes]] = {}
        waiting = sorted((w for w in self._wanted.values() if w.peer is None),
                         key=lambda w: w.height)
        for w in waiting:
            if budget <= 0:
                break
            fresh = [p for p in self._peers if p not in w.tried] or list(self._peers)
            peer = min(fresh, key=lambda p: (self._peers[p].in_flight, p.slot))
            state = self._peers[peer]
            free = self.max_in_flight - state.in_flight
            if free <= 0 or (state.in_flight and peer not in batches
                             and free < self._refill_at):
                continue
            state.in_flight += 1
            w.peer, w.sent_at = peer, now
            batches.setdefault(peer, []).append(w.header.hash)
            budget -= 1
        return [Send(peer, GetData(tuple(InvVector(InvType.BLOCK, h) for h in hashes)))
                for peer, hashes in batches.items()]
