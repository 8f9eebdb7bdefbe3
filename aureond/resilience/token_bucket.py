"""A token bucket rate limiter on an injected clock.

The bucket holds up to ``capacity`` tokens and gains ``refill_rate`` tokens per second.
A call takes ``n`` tokens: ``try_acquire(n)`` answers at once, ``acquire(n, timeout)``
waits (on the clock) until the tokens are there, or raises
:class:`~aureond.errors.RateLimitedError` straight away when they cannot be there within
``timeout``. Waiting is not queued: a waiter re-checks after sleeping, so a smaller or
luckier request may go first. Asking for more than ``capacity`` is a ``ValueError``
because it could never succeed.

Refusals (``try_acquire`` returning False, ``acquire`` raising) are reported to the
rejection listeners; ``name`` is a metrics label and must be bounded (a role such as
``"http"`` or ``"getheaders"``, never a client address).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aureond.clock import Clock
from aureond.errors import ConfigError, RateLimitedError

__all__ = ["RateLimited", "TokenBucket"]


@dataclass(frozen=True, slots=True)
class RateLimited:
    """A bucket refused ``requested`` tokens; they would be there in ``retry_after`` s."""

    limiter: str
    requested: float
    retry_after: float


RateLimitedListener = Callable[[RateLimited], None]

# Float slack: refilling for exactly the computed wait may land a hair below ``n``.
_EPSILON = 1e-9


class TokenBucket:
    """A token bucket; see the module docstring. Starts full unless told otherwise."""

    __slots__ = ("_capacity", "_clock", "_listeners", "_rate", "_tokens", "_updated", "name")

    def __init__(self, capacity: float, refill_rate: float, clock: Clock, *,
                 name: str = "bucket", initial: float | None = None) -> None:
        if not capacity > 0:
            raise ConfigError("capacity", "must be a positive number of tokens")
        if not refill_rate > 0:
            raise ConfigError("refill_rate", "must be a positive number of tokens per second")
        start = capacity if initial is None else initial
        if not 0 <= start <= capacity:
            raise ConfigError("initial", f"must be within [0, {capacity}]")
        self.name = name
        self._capacity = float(capacity)
        self._rate = float(refill_rate)
        self._clock = clock
        self._tokens = float(start)
        self._updated = clock.monotonic()
        self._listeners: list[RateLimitedListener] = []

    @property
    def capacity(self) -> float:
        """The most tokens the bucket can hold (the largest burst)."""
        return self._capacity

    @property
    def refill_rate(self) -> float:
        """Tokens added per second."""
        return self._rate

    @property
    def tokens(self) -> float:
        """Tokens available now."""
        self._refill(self._clock.monotonic())
        return self._tokens

    def last_used(self) -> float:
        """Monotonic time of the last refill (the last time the bucket was consulted)."""
        return self._updated

    def on_rate_limited(self, listener: RateLimitedListener) -> Callable[[], None]:
        """Call ``listener`` for each refusal; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def try_acquire(self, n: float = 1) -> bool:
        """Take ``n`` tokens if they are there now; never waits."""
        self._check(n)
        now = self._clock.monotonic()
        self._refill(now)
        if self._tokens + _EPSILON >= n:
            self._tokens = max(0.0, self._tokens - n)
            return True
        self._refused(n, (n - self._tokens) / self._rate)
        return False

    def time_until_available(self, n: float = 1) -> float:
        """Seconds until ``n`` tokens are there (0 if they are now); takes nothing."""
        self._check(n)
        self._refill(self._clock.monotonic())
        if self._tokens + _EPSILON >= n:
            return 0.0
        return (n - self._tokens) / self._rate

    # ``timeout`` is a budget on the injected clock that lets the bucket refuse at once
    # when waiting cannot help; ``asyncio.timeout`` (loop time, cancels) cannot do that.
    async def acquire(self, n: float = 1,
                      timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Take ``n`` tokens, waiting up to ``timeout`` seconds (None: as long as needed).

        Raises :class:`RateLimitedError` (with ``retry_after``) without waiting when the
        tokens cannot be there before the timeout.
        """
        self._check(n)
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0, got {timeout}")
        clock = self._clock
        deadline = None if timeout is None else clock.monotonic() + timeout
        while True:
            now = clock.monotonic()
            self._refill(now)
            if self._tokens + _EPSILON >= n:
                self._tokens = max(0.0, self._tokens - n)
                return
            wait = (n - self._tokens) / self._rate
            if deadline is not None and now + wait > deadline:
                self._refused(n, wait)
                raise RateLimitedError(self.name, wait)
            await clock.sleep(wait)

    def _check(self, n: float) -> None:
        if not 0 < n <= self._capacity:
            raise ValueError(
                f"cannot take {n} tokens from bucket {self.name!r}: "
                f"ask for between 0 (exclusive) and its capacity {self._capacity}")

    def _refill(self, now: float) -> None:
        elapsed = now - self._updated
        if elapsed > 0:
            tokens = self._tokens + elapsed * self._rate
            self._tokens = tokens if tokens < self._capacity else self._capacity
        self._updated = now if now > self._updated else self._updated

    def _refused(self, n: float, retry_after: float) -> None:
        if self._listeners:
            event = RateLimited(self.name, n, retry_after)
            for listener in self._listeners:
                listener(event)
