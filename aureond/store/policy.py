"""When the header store fsyncs: an explicit, documented policy.

What a crash can cost: ``flush()`` returns only after ``headers.dat``, ``index.dat`` and
the hash table are fsynced, so nothing acknowledged as flushed is ever lost. After a
process kill (``kill -9``) nothing that was appended is lost at all (the kernel holds
it). After a power loss or kernel crash, what was appended since the last flush may be
lost or torn; the store then heals to the last consistent height on the next open.
The automatic flushes bound that tail: at most ``every_n_headers`` plus one batch, and
at most ``every_seconds`` of appends (checked when ``append`` runs, on the injected
clock).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FsyncPolicy"]


@dataclass(frozen=True, slots=True)
class FsyncPolicy:
    """``every_n_headers``: flush once that many headers are unsynced (None: never).

    ``every_seconds``: flush when the last flush is at least this old, checked at
    each append (None: never; needs a clock). ``on_close``: flush in ``close()``.
    """

    every_n_headers: int | None = 2000
    every_seconds: float | None = 5.0
    on_close: bool = True

    def __post_init__(self) -> None:
        if self.every_n_headers is not None and self.every_n_headers < 1:
            raise ValueError("every_n_headers must be >= 1 or None")
        if self.every_seconds is not None and not self.every_seconds > 0:
            raise ValueError("every_seconds must be > 0 or None")

    @classmethod
    def manual(cls) -> FsyncPolicy:
        """Only explicit ``flush()`` calls sync (and ``close()``)."""
        return cls(every_n_headers=None, every_seconds=None, on_close=True)
