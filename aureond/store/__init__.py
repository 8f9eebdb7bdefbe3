"""The on-disk header store and the peer/ban records.

Synchronous file I/O only: callers on an event loop run these off the loop (a worker
thread, one call at a time) or in small batches. See :mod:`aureond.store.headers` for
the layout and the crash-recovery invariant.
"""

from aureond.store.headers import DEFAULT_TAIL_CHECK, DEFAULT_WINDOW, HeaderStore
from aureond.store.heal import HealReport
from aureond.store.peers import Ban, BookSnapshot, PeerAddress, PeerBook, PeerRecord
from aureond.store.policy import FsyncPolicy

__all__ = [
    "DEFAULT_TAIL_CHECK",
    "DEFAULT_WINDOW",
    "Ban",
    "BookSnapshot",
    "FsyncPolicy",
    "HealReport",
    "HeaderStore",
    "PeerAddress",
    "PeerBook",
    "PeerRecord",
]
