"""Header sync over all established peers.

One *sync peer* at a time serves the initial download: the established peer with the
best known height that has not told us it has nothing more. We
send it ``getheaders`` with the chain's locator; a full ``headers`` batch (2,000) is
followed by the next request from its last header, a shorter one (or an empty one)
means we have all it has, and the next best peer takes over if it knows more.

Every peer's ``headers`` go to the chain the same way, answers and announcements
alike; an ``inv`` of a block we do not know is answered with ``getheaders``.

Misbehaviour and its price:

* invalid headers (``HeaderRejectedError``, ``EncodingError``): disconnect and ban;
* headers that do not connect (``UnconnectedHeadersError``): never a ban; answered
  with at most one ``getheaders`` per ``UNCONNECTING_INTERVAL``, and the peer is
  dropped after ``MAX_UNCONNECTING`` such messages in a row without one that connects
  (Bitcoin Core's ``MAX_NUM_UNCONNECTING_HEADERS_MSGS``);
* low-work floods: headers that land on a side branch without moving our tip are
  counted per peer; more than ``LOW_WORK_LIMIT`` of them before that peer moves the
  tip gets it dropped. Memory bound: the tree holds its window plus, per connected
  peer, fewer than ``LOW_WORK_LIMIT + MAX_HEADERS_RESULTS`` side-branch headers; the
  counter only resets when the peer extends the most-work chain, which costs real
  proof of work. A peer whose whole chain ends below the network's
  ``minimum_chain_work`` while ours is below it too is dropped (not banned);
* no answer to ``getheaders`` within ``HEADERS_TIMEOUT``: the peer is stalled,
  dropped, and sync fails over to the next peer.

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

from dataclasses import dataclass

from aureond.chain.hashing import dsha256
from aureond.chain.header import HEADER_SIZE
from aureond.chain.tree import AddResult, TipChanged
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
from aureond.p2p.events import PeerId
from aureond.p2p.interfaces import ChainView
from aureond.wire import MAX_HEADERS_RESULTS, MAX_LOCATOR_SIZE, GetHeaders, Headers, Inv
from aureond.wire import InvType as _InvType

__all__ = [
    "DEFAULT_BAN_SECONDS",
    "HEADERS_TIMEOUT",
    "LOW_WORK_LIMIT",
    "MAX_UNCONNECTING",
    "NEAR_TIP_AGE",
    "STALE_CHECK_INTERVAL",
    "STALE_TIP_FACTOR",
    "UNCONNECTING_INTERVAL",
    "SyncManager",
    "SyncStatus",
]

#: Seconds a peer has to answer ``getheaders`` before it counts as stalled.
HEADERS_TIMEOUT = 60.0
#: At most one ``getheaders`` per peer per this many seconds in answer to headers
#: that do not connect.
UNCONNECTING_INTERVAL = 60.0
#: Unconnecting ``headers`` messages in a row (none connecting) before we drop the peer.
MAX_UNCONNECTING = 10
#: Side-branch headers a peer may make us hold without moving our tip.
LOW_WORK_LIMIT = 2 * MAX_HEADERS_RESULTS
#: The tip is stale when older than this many block intervals (``target_spacing``).
STALE_TIP_FACTOR = 3
#: How long without a new best header before a stale tip makes us ask every peer again.
STALE_CHECK_INTERVAL = 10 * 60.0
#: A tip younger than this counts as near the network's: new peers are asked at once.
NEAR_TIP_AGE = 24 * 60 * 60.0
#: Ban time for invalid headers, unless configured otherwise.
DEFAULT_BAN_SECONDS = 24 * 60 * 60
HEADERS_PER_STEP = 500
"""Headers validated per event-loop turn by a running node (``headers_per_step``):
about a millisecond of work, so a 2,000-header message never holds the loop for
long and ``/health`` answers in between. (It was 100 when a header cost five times
as much; each step also has a fixed cost of some 40 vector operations, which 100
headers did not amortize.)"""

_BLOCK_TYPES = frozenset((_InvType.BLOCK, _InvType.WITNESS_BLOCK))


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """A snapshot for health checks and ``/v1/status``."""

    state: SyncState
    tip_height: int
    best_peer_height: int
    progress: float
    tip_stale: bool
    ready_peers: int
    sync_peer: PeerId | None


@dataclass(slots=True)
class _PeerSync:
    peer: PeerId
    height: int
    request_at: float | None = None
    exhausted: bool = False
    unconnecting: int = 0
    last_unconnecting_request: float | None = None
    side_headers: int = 0
    partial: _Partial | None = None


@dataclass(slots=True)
class _Partial:
    """A ``headers`` message being validated a step at a time."""

    raw: bytes
    done: int  # bytes of ``raw`` already added
    answered: bool


class SyncManager:
    """Header sync state across peers; see the module docstring."""

    def __init__(self, chain: ChainView, *, ban_seconds: int = DEFAULT_BAN_SECONDS,
                 headers_per_step: int | None = None) -> None:
        if headers_per_step is not None and headers_per_step < 1:
            raise ValueError("headers_per_step must be at least 1")
        self._chain = chain
        self._ban_seconds = ban_seconds
        self._step_bytes = (None if headers_per_step is None
                            else headers_per_step * HEADER_SIZE)
        self._peers: dict[PeerId, _PeerSync] = {}
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
        p = _PeerSync(peer, max(0, start_height))
        self._peers[peer] = p
        self._chain.expect_height(p.height)
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
        if self._peers.pop(peer, None) is None:
            return []
        out: list[Action] = []
        if self._sync_peer == peer:
            self._sync_peer = None
            out += self._maybe_start_sync(now)
        return out + self._state_actions()

    def _eligible(self) -> list[_PeerSync]:
        tip = self._chain.tip_height
        return [p for p in self._peers.values()
                if not p.exhausted and p.height > tip]

    def _maybe_start_sync(self, now: float) -> list[Action]:
        if self._sync_peer is not None:
            return []
        candidates = self._eligible()
        if not candidates:
            return []
        best = max(candidates, key=lambda p: (p.height, -p.peer.slot))
        self._sync_peer = best.peer
        if best.request_at is not None:
            return []  # its answer to an earlier request will drive the sync
        return [self._request(best, now, self._chain.locator())]

    def _request(self, p: _PeerSync, now: float, locator: list[bytes]) -> Send:
        p.request_at = now
        return Send(p.peer, GetHeaders(tuple(locator[:MAX_LOCATOR_SIZE])))

    def _drop(self, p: _PeerSync, reason: str, now: float,
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
            p.height = min(p.height, self._chain.tip_height)
            return out + self._peer_done(p, answered, now)
        p.partial = _Partial(raw, 0, answered)
        return out + self._step(p, now)

    def resume(self, peer: PeerId, now: float) -> list[Action]:
        """The next step of ``peer``'s ``headers`` message (after ``Continue``)."""
        p = self._peers.get(peer)
        if p is None or p.partial is None:
            return []
        return self._step(p, now)

    def _step(self, p: _PeerSync, now: float) -> list[Action]:
        part, p.partial = p.partial, None
        assert part is not None
        raw = part.raw
        end = len(raw) if self._step_bytes is None else min(len(raw),
                                                             part.done + self._step_bytes)
        out: list[Action] = []
        try:
            result = self._chain.add(raw[part.done:end], int(now))
        except UnconnectedHeadersError:
            return self._unconnecting(p, now)
        except HeaderRejectedError as exc:
            return self._reject(p, exc.reason, exc.height, now)
        except EncodingError:
            return self._reject(p, "encoding", None, now)
        p.unconnecting = 0
        out += self._apply(p, result, now)
        if p.peer not in self._peers:
            return out
        if end < len(raw):
            part.done = end
            p.partial = part
            out.append(Continue(p.peer))
            return out
        last = dsha256(raw[-HEADER_SIZE:])
        full = len(raw) // HEADER_SIZE == MAX_HEADERS_RESULTS
        height = self._height_of(last, result)
        if height is not None:
            p.height = max(p.height, height) if full else height
        if full:
            # More to come: continue from the last header, wherever it sits.
            out.append(self._request(p, now, [last, *self._chain.locator()]))
            return out + self._state_actions()
        return out + self._peer_done(p, part.answered, now)

    def _height_of(self, block_hash: bytes, result: AddResult) -> int | None:
        height = self._chain.height_of(block_hash)
        if height is not None:
            return height
        for node in reversed(result.connected if isinstance(result, TipChanged)
                             else result.added):
            if node.hash == block_hash:
                return node.height
        return None

    def _apply(self, p: _PeerSync, result: AddResult, now: float) -> list[Action]:
        if isinstance(result, TipChanged):
            p.side_headers = 0
            self._last_tip_change = now
            return [TipUpdated(result)]
        p.side_headers += len(result.added)
        if p.side_headers > LOW_WORK_LIMIT:
            return self._drop(p, "low-work-flood", now)
        return []

    def _peer_done(self, p: _PeerSync, answered: bool, now: float) -> list[Action]:
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

    def _unconnecting(self, p: _PeerSync, now: float) -> list[Action]:
        p.unconnecting += 1
        if p.unconnecting > MAX_UNCONNECTING:
            return self._drop(p, "unconnecting-headers", now)
        last = p.last_unconnecting_request
        if p.request_at is None and (last is None or now - last >= UNCONNECTING_INTERVAL):
            p.last_unconnecting_request = now
            return [self._request(p, now, self._chain.locator())]
        return []

    def _reject(self, p: _PeerSync, reason: str, height: int | None,
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
                out += self._drop(p, "headers-timeout", now)
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
