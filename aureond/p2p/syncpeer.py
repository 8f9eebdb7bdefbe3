"""The sync manager's constants and its per-peer records (see ``aureond.p2p.sync``).

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
  dropped, and sync fails over to the next peer;
* a header too far in the future (``time-too-new``) is neither kept nor punished, as in
  Bitcoin Core: the headers before it are kept, and the peer is asked again after
  ``FUTURE_RETRY`` seconds (our clock may be the one that is wrong);
* an answer to our ``getheaders`` that does not connect (our locator ends at the
  anchor, which every chain of ours shares, so an honest answer always connects): the
  peer loses the sync slot at once and its claimed height is forgotten;
* a whole batch of headers we already have: not asked again; ``MAX_USELESS`` in a row
  drop the peer, and an address dropped so ``BAN_AFTER`` times is banned
  (``aureond.p2p.wasters``);
* a sync peer that gives us no new header for ``SYNC_PROGRESS_TIMEOUT``: replaced, its
  claim forgotten. A claim a peer did not deliver is not believed when it comes back.

Headers that would have to be kept before their chain shows enough work (our chain is
below minimum chain work, or a branch forks off it deeper than ``DEEP_FORK``) are
presynced first (``aureond.p2p.deepfork``): a peer whose redownload differs from its
presync is dropped (``presync-mismatch``), one whose chain ends with too little work is
dropped as ``low-work-chain`` (below minimum work) or simply left (a weaker branch).
"""

from __future__ import annotations

from dataclasses import dataclass

from aureond.p2p.actions import SyncState
from aureond.p2p.deepfork import PeerFork
from aureond.p2p.events import PeerId
from aureond.wire import MAX_HEADERS_RESULTS

__all__ = [
    "DEFAULT_BAN_SECONDS",
    "FUTURE_RETRY",
    "HEADERS_PER_STEP",
    "HEADERS_TIMEOUT",
    "LOW_WORK_LIMIT",
    "MAX_UNCONNECTING",
    "NEAR_TIP_AGE",
    "STALE_CHECK_INTERVAL",
    "STALE_TIP_FACTOR",
    "SYNC_PROGRESS_TIMEOUT",
    "UNCONNECTING_INTERVAL",
    "Partial",
    "PeerSync",
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
#: Seconds the sync peer has to give us a header we did not have before it is replaced.
SYNC_PROGRESS_TIMEOUT = 120.0
#: Seconds before a peer whose headers were too far in the future is asked again.
FUTURE_RETRY = 60.0
#: Ban time for invalid headers, unless configured otherwise.
DEFAULT_BAN_SECONDS = 24 * 60 * 60
HEADERS_PER_STEP = 500
"""Headers validated per event-loop turn by a running node (``headers_per_step``):
about a millisecond of work, so a 2,000-header message never holds the loop for
long and ``/health`` answers in between. (It was 100 when a header cost five times
as much; each step also has a fixed cost of some 40 vector operations, which 100
headers did not amortize.)"""

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
class PeerSync:
    """What the sync manager knows of one established peer."""

    peer: PeerId
    height: int
    request_at: float | None = None
    exhausted: bool = False
    unconnecting: int = 0
    last_unconnecting_request: float | None = None
    side_headers: int = 0
    partial: Partial | None = None
    fork: PeerFork | None = None
    retry_at: float | None = None  # ask again then (headers were too new)
    useless: int = 0  # full batches in a row that brought nothing new
    last_progress: float = 0.0  # when it last gave us a header we did not have


@dataclass(slots=True)
class Partial:
    """A ``headers`` message being validated a step at a time."""

    raw: bytes
    done: int  # bytes of ``raw`` already added
    answered: bool
    new: int = 0  # headers of it that were new to us
