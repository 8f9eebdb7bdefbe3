"""Header sync over all established peers.

One *sync peer* at a time serves the initial download: the established peer with the
best known height that has not told us it has nothing more. We
send it ``getheaders`` with the chain's locator; a full ``headers`` batch (2,000) is
followed by the next request from its last header, a shorter one (or an empty one)
means we have all it has, and the next best peer takes over if it knows more.

Every peer's ``headers`` go to the chain the same way, answers and announcements
alike; an ``inv`` of a block we do not know is answered with ``getheaders``.

Misbehaviour has its price (disconnect, ban, a forgotten claim); the prices are listed
with their constants in ``aureond.p2p.syncpeer``.

With ``headers_per_step``, a large ``headers`` message is validated that many headers
at a time: after each step the core returns ``Continue(peer)`` and the driver, having
given the event loop a turn, delivers ``Resume(peer)`` for the next step (and no other
message from that peer in between). The outcome is the one of the whole message at
once, except that when a header is invalid the valid steps before it are kept (they
passed every rule); the peer is banned either way.

A tip older than ``STALE_TIP_FACTOR`` block intervals with no new best header for
``STALE_CHECK_INTERVAL`` makes us ask every peer, and says so with ``StaleTip``.
"""

from __future__ import annotations

import contextlib

from aureond.chain.hashing import dsha256
from aureond.chain.header import HEADER_SIZE
from aureond.chain.presync import Phase, PresyncMismatchError
from aureond.chain.tree import AddResult, TipChanged
from aureond.clock import RandomSource
from aureond.errors import EncodingError, HeaderRejectedError, UnconnectedHeadersError
from aureond.p2p.actions import (
    Action,
    Continue,
    Disconnect,
    HeadersRejected,
    PeerMisbehaved,
    RequestCompleted,
    Send,
    StaleTip,
    Stalled,
    SyncState,
    SyncStateChanged,
    TipUpdated,
)
from aureond.p2p.deepfork import ForkRoutes, PeerFork
from aureond.p2p.events import PeerId
from aureond.p2p.interfaces import ForkChain
from aureond.p2p.syncpeer import (
    DEFAULT_BAN_SECONDS,
    FUTURE_RETRY,
    HEADERS_TIMEOUT,
    LOW_WORK_LIMIT,
    MAX_UNCONNECTING,
    NEAR_TIP_AGE,
    STALE_CHECK_INTERVAL,
    STALE_TIP_FACTOR,
    SYNC_PROGRESS_TIMEOUT,
    UNCONNECTING_INTERVAL,
    Partial,
    PeerSync,
    SyncStatus,
)
from aureond.p2p.wasters import MAX_USELESS, Wasters
from aureond.wire import MAX_HEADERS_RESULTS, MAX_LOCATOR_SIZE, GetHeaders, Headers, Inv
from aureond.wire import InvType as _InvType

__all__ = ["SyncManager", "SyncStatus"]

_BLOCK_TYPES = frozenset((_InvType.BLOCK, _InvType.WITNESS_BLOCK))


class SyncManager:
    """Header sync state across peers; see the module docstring."""

    def __init__(self, chain: ForkChain, rng: RandomSource, *,
                 ban_seconds: int = DEFAULT_BAN_SECONDS,
                 headers_per_step: int | None = None) -> None:
        if headers_per_step is not None and headers_per_step < 1:
            raise ValueError("headers_per_step must be at least 1")
        self._chain = chain
        self._forks = ForkRoutes(chain, rng)
        self._wasters = Wasters()
        self._ban_seconds = ban_seconds
        self._step_bytes = (None if headers_per_step is None
                            else headers_per_step * HEADER_SIZE)
        self._peers: dict[PeerId, PeerSync] = {}
        self._sync_peer: PeerId | None = None
        self._state: SyncState | None = None
        self._last_tip_change: float | None = None
        self._last_stale_check: float | None = None
        self._stale_age = STALE_TIP_FACTOR * chain.params.target_spacing

    # --- queries ----------------------------------------------------------------

    @property
    def sync_peer(self) -> PeerId | None:
        return self._sync_peer

    @property
    def best_peer_height(self) -> int:
        """The best height any established peer has shown (our own tip at least)."""
        return max((p.height for p in self._peers.values()), default=0)

    def peer_height(self, peer: PeerId) -> int | None:
        p = self._peers.get(peer)
        return p.height if p is not None else None

    def side_headers(self, peer: PeerId) -> int:
        p = self._peers.get(peer)
        return p.side_headers if p is not None else 0

    def presync(self, peer: PeerId) -> PeerFork | None:
        """``peer``'s presync (deep fork or low-work chain), if one is under way."""
        p = self._peers.get(peer)
        return p.fork if p is not None else None

    def presync_bytes(self) -> int:
        """Memory held by all presyncs (the bound in ``aureond.chain.presync``)."""
        return sum(p.fork.presync.memory_bytes() for p in self._peers.values()
                   if p.fork is not None)

    def tip_stale(self, now: float) -> bool:
        return now - self._chain.tip_time > self._stale_age

    def status(self, now: float) -> SyncStatus:
        best = max(self.best_peer_height, self._chain.tip_height)
        return SyncStatus(self._compute_state(), self._chain.tip_height, best,
                          self._progress(), self.tip_stale(now), len(self._peers),
                          self._sync_peer)

    def _progress(self) -> float:
        best = self.best_peer_height
        if best <= 0:
            return 1.0 if self._peers else 0.0
        return min(1.0, self._chain.tip_height / best)

    def _compute_state(self) -> SyncState:
        if not self._peers:
            return SyncState.CONNECTING
        chain = self._chain
        behind = chain.tip_height + 1 < self.best_peer_height
        low_work = chain.tip_chainwork < chain.params.minimum_chain_work
        if not behind and not low_work:
            return SyncState.SYNCED
        if self._sync_peer is not None:
            return SyncState.INITIAL_SYNC
        return SyncState.STALLED

    def _state_actions(self) -> list[Action]:
        state = self._compute_state()
        if state is self._state:
            return []
        self._state = state
        return [SyncStateChanged(state, self._progress())]

    # --- peers ------------------------------------------------------------------

    def add_peer(self, peer: PeerId, start_height: int, now: float) -> list[Action]:
        """``peer`` completed the handshake announcing ``start_height``."""
        claim = max(0, start_height)
        if not self._wasters.believable(peer.address, claim):
            claim = min(claim, self._chain.tip_height)  # it claimed that before, in vain
        p = PeerSync(peer, claim, last_progress=now)
        self._peers[peer] = p
        if self._last_tip_change is None:
            self._last_tip_change = now
        out = self._maybe_start_sync(now)
        near_tip = now - self._chain.tip_time < NEAR_TIP_AGE
        if self._sync_peer != peer and near_tip and p.request_at is None:
            # Near the tip every peer is asked once: it learns where we are (and starts
            # announcing with headers), we learn its chain.
            out.append(self._request(p, now, self._chain.locator()))
        return out + self._state_actions()

    def remove_peer(self, peer: PeerId, now: float) -> list[Action]:
        p = self._peers.pop(peer, None)
        if p is None:
            return []
        if p.fork is not None:
            p.fork.discard()
            p.fork = None
        out: list[Action] = []
        if self._sync_peer == peer:
            self._sync_peer = None
            out += self._maybe_start_sync(now)
        return out + self._state_actions()

    def _eligible(self) -> list[PeerSync]:
        tip = self._chain.tip_height
        return [p for p in self._peers.values()
                if not p.exhausted and p.height > tip and p.retry_at is None]

    def _maybe_start_sync(self, now: float) -> list[Action]:
        if self._sync_peer is not None:
            return []
        candidates = self._eligible()
        if not candidates:
            return []
        best = max(candidates, key=lambda p: (p.height, -p.peer.slot))
        self._sync_peer = best.peer
        best.last_progress = now
        if best.request_at is not None:
            return []  # its answer to an earlier request will drive the sync
        locator = [best.fork.ask_from] if best.fork is not None else self._chain.locator()
        return [self._request(best, now, locator)]

    def _request(self, p: PeerSync, now: float, locator: list[bytes]) -> Send:
        p.request_at = now
        return Send(p.peer, GetHeaders(tuple(locator[:MAX_LOCATOR_SIZE])))

    def _drop(self, p: PeerSync, reason: str, now: float,
              ban: bool = False) -> list[Action]:
        """Forget ``p`` and tell the driver to disconnect (and maybe ban) it."""
        out: list[Action] = [Disconnect(p.peer, reason, self._ban_seconds if ban else None)]
        return out + self.remove_peer(p.peer, now)

    # --- messages ---------------------------------------------------------------

    def on_headers(self, peer: PeerId, message: Headers, now: float) -> list[Action]:
        p = self._peers.get(peer)
        if p is None:
            return []
        out: list[Action] = []
        answered = p.request_at is not None
        if p.request_at is not None:
            out.append(RequestCompleted(peer, "getheaders", max(0.0, now - p.request_at)))
            p.request_at = None
        else:
            p.exhausted = False  # an announcement: the peer has something new
        raw = message.raw
        if not raw:
            if answered and p.height > self._chain.tip_height:
                self._wasters.claim_failed(peer.address, p.height)
            p.height = min(p.height, self._chain.tip_height)
            return out + self._peer_done(p, answered, now)
        p.partial = Partial(raw, 0, answered)
        return out + self._step(p, now)

    def resume(self, peer: PeerId, now: float) -> list[Action]:
        """The next step of ``peer``'s ``headers`` message (after ``Continue``)."""
        p = self._peers.get(peer)
        if p is None or p.partial is None:
            return []
        return self._step(p, now)

    def _step(self, p: PeerSync, now: float) -> list[Action]:
        part, p.partial = p.partial, None
        assert part is not None
        raw = part.raw
        end = len(raw) if self._step_bytes is None else min(len(raw),
                                                             part.done + self._step_bytes)
        chunk = raw[part.done:end]
        if p.fork is None:
            try:
                started = self._forks.start(chunk, f"peer{p.peer.slot}", int(now))
            except HeaderRejectedError as exc:
                return self._reject(p, exc.reason, exc.height, now)
            if started is not None:
                p.fork, chunk = started
        if p.fork is not None:
            if part.done == 0 and chunk[4:36] != p.fork.presync.next_parent:
                # Not the continuation the presync waits for (an announcement, or a
                # late answer): ask again if it was the answer, else let it pass.
                if not part.answered:
                    return []
                return self._unconnecting(p, now, [p.fork.ask_from])
            return self._step_fork(p, p.fork, part, chunk, end, now)
        out: list[Action] = []
        try:
            result = self._chain.add(chunk, int(now))
        except UnconnectedHeadersError:
            if part.answered and part.done == 0:
                return self._answer_unconnecting(p, now)
            return self._unconnecting(p, now)
        except HeaderRejectedError as exc:
            if exc.reason == "time-too-new":
                return self._too_new(p, chunk, exc, now)
            return self._reject(p, exc.reason, exc.height, now)
        except EncodingError:
            return self._reject(p, "encoding", None, now)
        p.unconnecting = 0
        part.new += len(result.connected if isinstance(result, TipChanged) else result.added)
        out += self._apply(p, result, now)
        if p.peer not in self._peers:
            return out
        if end < len(raw):
            part.done = end
            p.partial = part
            out.append(Continue(p.peer))
            return out
        return out + self._message_done(p, part, result, now)

    def _message_done(self, p: PeerSync, part: Partial, result: AddResult | None,
                      now: float) -> list[Action]:
        """The whole of ``part`` went to the chain: ask for more, or the peer is done."""
        raw = part.raw
        out: list[Action] = []
        last = dsha256(raw[-HEADER_SIZE:])
        full = len(raw) // HEADER_SIZE == MAX_HEADERS_RESULTS
        if part.new:
            p.useless, p.last_progress = 0, now
        elif full:
            # A whole batch of headers we already had: asking again would get the same.
            p.useless += 1
            if p.useless >= MAX_USELESS:
                ban = self._wasters.useless_drop(p.peer.address)
                return self._drop(p, "useless-headers", now, ban=ban)
            return self._peer_done(p, part.answered, now)
        height = self._height_of(last, result)
        if height is not None:
            p.height = max(p.height, height) if full else height
        if isinstance(result, TipChanged):  # its claim is backed by work: size for it
            self._chain.expect_height(p.height, now)
        if full:
            # More to come: continue from the last header, wherever it sits.
            out.append(self._request(p, now, [last, *self._chain.locator()]))
            return out + self._state_actions()
        return out + self._peer_done(p, part.answered, now)

    def _height_of(self, block_hash: bytes, result: AddResult | None) -> int | None:
        height = self._chain.height_of(block_hash)
        if height is not None or result is None:
            return height
        for node in reversed(result.connected if isinstance(result, TipChanged)
                             else result.added):
            if node.hash == block_hash:
                return node.height
        return None

    def _apply(self, p: PeerSync, result: AddResult, now: float) -> list[Action]:
        if isinstance(result, TipChanged):
            p.side_headers = 0
            self._last_tip_change = now
            return [TipUpdated(result)]
        p.side_headers += len(result.added)
        if p.side_headers > LOW_WORK_LIMIT:
            return self._drop(p, "low-work-flood", now)
        return []

    def _step_fork(self, p: PeerSync, fork: PeerFork, part: Partial, chunk: bytes,
                   end: int, now: float) -> list[Action]:
        """Feed ``chunk`` to ``p``'s presync (see ``aureond.p2p.deepfork``)."""
        try:
            step = self._forks.feed(fork, chunk, int(now))
        except PresyncMismatchError as exc:
            out: list[Action] = [HeadersRejected(p.peer, exc.reason, exc.height)]
            return out + self._drop(p, "presync-mismatch", now)
        except HeaderRejectedError as exc:
            if exc.reason == "time-too-new":
                return self._too_new(p, b"", exc, now)
            return self._reject(p, exc.reason, exc.height, now)
        except EncodingError:
            return self._reject(p, "encoding", None, now)
        out = []
        p.unconnecting = 0
        p.useless, p.last_progress = 0, now
        part.new += len(chunk) // HEADER_SIZE
        if step.change is not None:
            out += self._apply(p, step.change, now)
        raw = part.raw
        if fork.phase is Phase.DONE:
            p.fork = None
            if end < len(raw):
                part.done = end
                p.partial = part
                return [*out, Continue(p.peer)]
            return out + self._message_done(p, part, step.change, now)
        if step.restarted:
            # The chain showed its work: ask for it again from the fork point.
            return [*out, self._request(p, now, [fork.ask_from])]
        if end < len(raw):
            part.done = end
            p.partial = part
            return [*out, Continue(p.peer)]
        if len(raw) // HEADER_SIZE == MAX_HEADERS_RESULTS:
            return [*out, self._request(p, now, [fork.ask_from])]
        # The peer's chain ends here, short of the work it needs.
        fork.discard()
        p.fork = None
        if fork.phase is Phase.REDOWNLOAD:
            return out + self._drop(p, "presync-mismatch", now)
        if fork.low_work:
            return out + self._drop(p, "low-work-chain", now)
        p.height = min(p.height, self._chain.tip_height)
        return out + self._peer_done(p, part.answered, now)

    def _too_new(self, p: PeerSync, chunk: bytes, exc: HeaderRejectedError,
                 now: float) -> list[Action]:
        """A header too far in the future: keep what came before it, punish nothing,
        ask again later (the headers may be fine and our clock slow)."""
        out: list[Action] = [HeadersRejected(p.peer, exc.reason, exc.height)]
        limit = int(now) + self._chain.params.max_future_seconds
        keep = 0
        while (keep * HEADER_SIZE < len(chunk) and int.from_bytes(
                chunk[keep * HEADER_SIZE + 68:keep * HEADER_SIZE + 72], "little") <= limit):
            keep += 1
        if keep:  # on failure nothing is kept; the next request settles it
            with contextlib.suppress(HeaderRejectedError, UnconnectedHeadersError,
                                     EncodingError):
                out += self._apply(p, self._chain.add(chunk[:keep * HEADER_SIZE], int(now)),
                                   now)
        p.partial = None
        p.retry_at = now + FUTURE_RETRY
        if self._sync_peer == p.peer:
            self._sync_peer = None
        return out + self._state_actions()

    def _peer_done(self, p: PeerSync, answered: bool, now: float) -> list[Action]:
        """``p`` sent a short batch: we have everything it has."""
        out: list[Action] = []
        if answered:
            p.exhausted = True
            chain = self._chain
            if chain.tip_chainwork < chain.params.minimum_chain_work:
                return self._drop(p, "low-work-chain", now)
        if self._sync_peer == p.peer:
            self._sync_peer = None
            out += self._maybe_start_sync(now)
        return out + self._state_actions()

    def _answer_unconnecting(self, p: PeerSync, now: float) -> list[Action]:
        """Our ``getheaders`` (whose locator ends at the anchor every chain of ours
        shares) was answered with headers that do not connect: the peer cannot serve
        us. It loses the sync slot at once and its claim is forgotten; the next peer
        is asked."""
        tip = self._chain.tip_height
        if p.height > tip:
            self._wasters.claim_failed(p.peer.address, p.height)
            p.height = tip
        p.exhausted = True
        out = self._unconnecting(p, now, request=False)
        if p.peer in self._peers and self._sync_peer == p.peer:
            self._sync_peer = None
            out += self._maybe_start_sync(now)
        return out + self._state_actions()

    def _unconnecting(self, p: PeerSync, now: float, locator: list[bytes] | None = None,
                      *, request: bool = True) -> list[Action]:
        p.unconnecting += 1
        if p.unconnecting > MAX_UNCONNECTING:
            return self._drop(p, "unconnecting-headers", now)
        if not request:
            return []
        last = p.last_unconnecting_request
        if p.request_at is None and (last is None or now - last >= UNCONNECTING_INTERVAL):
            p.last_unconnecting_request = now
            return [self._request(p, now, locator or self._chain.locator())]
        return []

    def _reject(self, p: PeerSync, reason: str, height: int | None,
                now: float) -> list[Action]:
        out: list[Action] = [HeadersRejected(p.peer, reason, height),
                             PeerMisbehaved(p.peer, f"invalid-headers:{reason}", 100)]
        return out + self._drop(p, f"invalid-headers:{reason}", now, ban=True)

    def on_inv(self, peer: PeerId, message: Inv, now: float) -> list[Action]:
        p = self._peers.get(peer)
        if p is None:
            return []
        unknown = [i for i in message.items
                   if i.type in _BLOCK_TYPES and not self._chain.contains(i.hash)]
        if not unknown:
            return []
        p.exhausted = False
        if p.request_at is not None:
            return []
        return [self._request(p, now, self._chain.locator())]

    # --- time -------------------------------------------------------------------

    def tick(self, now: float) -> list[Action]:
        out: list[Action] = []
        for p in list(self._peers.values()):
            if p.request_at is not None and now - p.request_at >= HEADERS_TIMEOUT:
                out.append(Stalled(p.peer, "getheaders"))
                if p.height > self._chain.tip_height:
                    self._wasters.claim_failed(p.peer.address, p.height)
                out += self._drop(p, "headers-timeout", now)
            elif (p.peer == self._sync_peer
                  and now - p.last_progress >= SYNC_PROGRESS_TIMEOUT):
                # It answers, but nothing it sends takes us toward its claim.
                self._wasters.claim_failed(p.peer.address, p.height)
                p.height = min(p.height, self._chain.tip_height)
                p.exhausted = True
                p.last_progress = now
                self._sync_peer = None
                out.append(Stalled(p.peer, "sync-progress"))
            elif p.retry_at is not None and now >= p.retry_at and p.request_at is None:
                p.retry_at = None
                locator = [p.fork.ask_from] if p.fork is not None else self._chain.locator()
                out.append(self._request(p, now, locator))
        out += self._stale_check(now)
        if self._sync_peer is None:
            out += self._maybe_start_sync(now)
        return out + self._state_actions()

    def _stale_check(self, now: float) -> list[Action]:
        if self._last_tip_change is None or not self._peers or not self.tip_stale(now):
            return []
        if now - self._last_tip_change < STALE_CHECK_INTERVAL:
            return []
        last = self._last_stale_check
        if last is not None and now - last < STALE_CHECK_INTERVAL:
            return []
        self._last_stale_check = now
        chain = self._chain
        out: list[Action] = [StaleTip(chain.tip_height, chain.tip_time, now - chain.tip_time)]
        locator = chain.locator()
        for p in self._peers.values():
            p.exhausted = False
            if p.request_at is None:
                out.append(self._request(p, now, locator))
        return out
