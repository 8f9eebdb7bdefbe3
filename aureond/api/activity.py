"""When the HTTP API last started a request: a hint for the P2P driver to give way.

Header sync is CPU-bound and shares the event loop with the API. The driver validates
a large ``headers`` message a step at a time; between steps it normally yields one
loop turn. While requests are arriving (one started within ``window`` seconds) it
yields a few more, so a request's handful of loop turns are not each queued behind a
sync step. Sync slows a little while the API is busy and not at all otherwise.
"""

from __future__ import annotations

from aureond.clock import Clock

__all__ = ["DEFAULT_WINDOW", "RequestActivity"]

DEFAULT_WINDOW = 0.05
"""Seconds after a request started during which the API counts as busy."""


class RequestActivity:
    """Request starts, as seen by the API's middleware; read by the P2P driver."""

    def __init__(self, clock: Clock, window: float = DEFAULT_WINDOW) -> None:
        if not window > 0:
            raise ValueError("window must be a positive number of seconds")
        self._clock = clock
        self._window = window
        self._last: float | None = None

    def started(self) -> None:
        """A request started now."""
        self._last = self._clock.monotonic()

    def busy(self) -> bool:
        """Whether a request started within the window."""
        last = self._last
        return last is not None and self._clock.monotonic() - last < self._window
