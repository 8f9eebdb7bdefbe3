"""An asyncio circuit breaker with a synchronous core.

States and transitions::

    CLOSED --(consecutive failures >= failure_threshold,
              or failure rate >= failure_rate_threshold over the sliding window
              once it holds >= minimum_calls)--> OPEN
    OPEN --(open_timeout elapsed)--> HALF_OPEN
    HALF_OPEN --(success_threshold consecutive probe successes)--> CLOSED
    HALF_OPEN --(any probe failure, or a probe past its deadline)--> OPEN

While OPEN every call is refused with :class:`~aureond.errors.CircuitOpenError` carrying
the time left. HALF_OPEN admits at most ``half_open_max_probes`` concurrent probes; each
has ``probe_timeout`` seconds to report, and one that reports late (or not at all before
the next look at the breaker) counts as a failure. The breaker never cancels a probe: a
caller bounds its own I/O (``asyncio.timeout``) and the breaker only judges the outcome.

Time-driven transitions (open timeout, probe deadline) are applied lazily whenever the
breaker is consulted (``allow()``, ``state``, a recorded outcome), so it needs no timer
task. Two ways to use it:

* ``await breaker.call(fn)`` or ``async with breaker:`` around the protected I/O;
* ``allow()`` then exactly one of ``record_success()`` / ``record_failure()`` /
  ``release()``, for state machines that do their own I/O.

Which exceptions count as failures is configurable; an exception that does not count is
a success for the breaker (the dependency answered). ``CancelledError`` (and any other
non-``Exception``) never counts: the admission is released and the error re-raised.

``name`` is used as a metrics label: pick a bounded name (a peer slot or a role such as
``"peer-3"`` or ``"dns-seed"``), never a raw address.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TypeVar

from aureond.clock import Clock
from aureond.errors import CircuitOpenError, ConfigError

__all__ = ["BreakerConfig", "BreakerState", "CircuitBreaker", "Rejection", "StateChange"]

T = TypeVar("T")


class BreakerState(enum.Enum):
    """The three states of a circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """Thresholds and timeouts of a :class:`CircuitBreaker` (seconds for durations)."""

    failure_threshold: int = 5
    """Consecutive failures (in CLOSED) that open the breaker."""
    failure_rate_threshold: float = 0.5
    """Failure ratio over the window, in (0, 1], that opens the breaker."""
    window_seconds: float = 60.0
    """Length of the sliding window (kept in 10 buckets, so exact to a tenth)."""
    minimum_calls: int = 20
    """Calls the window must hold before the failure rate is judged."""
    open_timeout: float = 30.0
    """How long OPEN refuses everything before admitting probes."""
    half_open_max_probes: int = 1
    """Concurrent probes admitted in HALF_OPEN."""
    probe_timeout: float = 10.0
    """Deadline of each probe; a later outcome counts as a failure."""
    success_threshold: int = 2
    """Consecutive probe successes that close the breaker."""
    failure_types: tuple[type[Exception], ...] = (Exception,)
    """Exceptions that count as failures ..."""
    ignored_types: tuple[type[Exception], ...] = ()
    """... unless they are also one of these."""

    def __post_init__(self) -> None:
        positive_ints = ("failure_threshold", "minimum_calls", "half_open_max_probes",
                         "success_threshold")
        for field in positive_ints:
            if getattr(self, field) < 1:
                raise ConfigError(field, "must be at least 1")
        for field in ("window_seconds", "open_timeout", "probe_timeout"):
            if not getattr(self, field) > 0:
                raise ConfigError(field, "must be a positive number of seconds")
        if not 0 < self.failure_rate_threshold <= 1:
            raise ConfigError("failure_rate_threshold", "must be in (0, 1]")


@dataclass(frozen=True, slots=True)
class StateChange:
    """A breaker moved from one state to another at monotonic time ``at``."""

    breaker: str
    from_state: BreakerState
    to_state: BreakerState
    at: float
    reason: str


@dataclass(frozen=True, slots=True)
class Rejection:
    """A breaker refused a call; ``remaining`` seconds until it may admit one."""

    breaker: str
    state: BreakerState
    remaining: float


StateListener = Callable[[StateChange], None]
RejectionListener = Callable[[Rejection], None]

_WINDOW_BUCKETS = 10
_NO_PROBE = -1


class _Window:
    """Calls and failures over the last ``seconds``, in fixed buckets (O(1) memory)."""

    __slots__ = ("_calls", "_fails", "_last", "_width", "calls", "failures")

    def __init__(self, seconds: float) -> None:
        self._width = seconds / _WINDOW_BUCKETS
        self._calls = [0] * _WINDOW_BUCKETS
        self._fails = [0] * _WINDOW_BUCKETS
        self._last = 0
        self.calls = 0
        self.failures = 0

    def reset(self) -> None:
        self._calls = [0] * _WINDOW_BUCKETS
        self._fails = [0] * _WINDOW_BUCKETS
        self.calls = 0
        self.failures = 0

    def add(self, now: float, failed: bool) -> None:
        bucket = int(now // self._width)
        if bucket > self._last:
            steps = min(bucket - self._last, _WINDOW_BUCKETS)
            for k in range(1, steps + 1):
                slot = (self._last + k) % _WINDOW_BUCKETS
                self.calls -= self._calls[slot]
                self.failures -= self._fails[slot]
                self._calls[slot] = 0
                self._fails[slot] = 0
            self._last = bucket
        slot = self._last % _WINDOW_BUCKETS  # a clock step back counts in the newest bucket
        self._calls[slot] += 1
        self.calls += 1
        if failed:
            self._fails[slot] += 1
            self.failures += 1


class CircuitBreaker:
    """A circuit breaker guarding one dependency; see the module docstring."""

    __slots__ = ("_clock", "_config", "_consecutive_failures", "_epoch", "_held",
                 "_next_probe", "_on_rejection", "_on_state_change", "_opened_at",
                 "_probe_successes", "_probes", "_state", "_window", "name")

    def __init__(self, name: str, clock: Clock, config: BreakerConfig | None = None) -> None:
        self.name = name
        self._clock = clock
        self._config = config if config is not None else BreakerConfig()
        self._state = BreakerState.CLOSED
        self._epoch = 0
        self._opened_at = 0.0
        self._consecutive_failures = 0
        self._probe_successes = 0
        self._probes: dict[int, float] = {}  # probe id -> deadline, in admission order
        self._next_probe = 0
        self._window = _Window(self._config.window_seconds)
        self._held: dict[asyncio.Task[object] | None, list[tuple[int, int]]] = {}
        self._on_state_change: list[StateListener] = []
        self._on_rejection: list[RejectionListener] = []

    # -- observation -----------------------------------------------------------------

    @property
    def config(self) -> BreakerConfig:
        """The thresholds this breaker was built with."""
        return self._config

    @property
    def state(self) -> BreakerState:
        """The current state, after applying any transition that time has made due."""
        self._refresh(self._clock.monotonic())
        return self._state

    @property
    def probes_in_flight(self) -> int:
        """Probes admitted in HALF_OPEN that have not reported yet."""
        self._refresh(self._clock.monotonic())
        return len(self._probes)

    def remaining_open_time(self) -> float:
        """Seconds until a call may be admitted (0 when one would be now)."""
        now = self._clock.monotonic()
        self._refresh(now)
        return self._remaining(now)

    def on_state_change(self, listener: StateListener) -> Callable[[], None]:
        """Call ``listener`` after every transition; returns an unsubscribe function.

        Listeners run synchronously inside the breaker call; they must be quick and must
        not raise (an exception propagates to the caller whose call caused the change).
        """
        self._on_state_change.append(listener)
        return lambda: self._on_state_change.remove(listener)

    def on_rejection(self, listener: RejectionListener) -> Callable[[], None]:
        """Call ``listener`` for every refused call; returns an unsubscribe function."""
        self._on_rejection.append(listener)
        return lambda: self._on_rejection.remove(listener)

    def is_failure(self, exc: BaseException) -> bool:
        """Whether ``exc`` counts as a failure of the guarded dependency."""
        if not isinstance(exc, Exception):
            return False  # CancelledError, KeyboardInterrupt, SystemExit
        cfg = self._config
        return isinstance(exc, cfg.failure_types) and not isinstance(exc, cfg.ignored_types)

    # -- synchronous API -----------------------------------------------------------------

    def allow(self) -> bool:
        """Admit one call now or refuse it (firing the rejection listeners).

        An admitted call must be followed by exactly one ``record_success()``,
        ``record_failure()`` or ``release()``.
        """
        return self._admit(self._clock.monotonic()) is not None

    def record_success(self) -> None:
        """Report that the oldest outstanding admitted call succeeded."""
        self._record_unticketed(ok=True)

    def record_failure(self) -> None:
        """Report that the oldest outstanding admitted call failed."""
        self._record_unticketed(ok=False)

    def release(self) -> None:
        """Report that the oldest outstanding admitted call was abandoned (not counted)."""
        self._refresh(self._clock.monotonic())
        if self._state is BreakerState.HALF_OPEN and self._probes:
            del self._probes[next(iter(self._probes))]

    def check(self) -> None:
        """Admit one call or raise :class:`CircuitOpenError` (then settle it as above)."""
        now = self._clock.monotonic()
        if self._admit(now) is None:
            raise CircuitOpenError(self.name, self._remaining(now))

    # -- asynchronous API ----------------------------------------------------------------

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``await fn()`` through the breaker; refused calls raise CircuitOpenError."""
        ticket = self._admit_or_raise()
        try:
            result = await fn()
        except Exception as exc:
            self._settle(ticket, ok=not self.is_failure(exc))
            raise
        except BaseException:
            self._release(ticket)
            raise
        self._settle(ticket, ok=True)
        return result

    async def __aenter__(self) -> CircuitBreaker:
        ticket = self._admit_or_raise()
        self._held.setdefault(_current_task(), []).append(ticket)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        task = _current_task()
        stack = self._held[task]
        ticket = stack.pop()
        if not stack:
            del self._held[task]
        if exc is None:
            self._settle(ticket, ok=True)
        elif isinstance(exc, Exception):
            self._settle(ticket, ok=not self.is_failure(exc))
        else:
            self._release(ticket)

    # -- core ----------------------------------------------------------------------------

    def _admit_or_raise(self) -> tuple[int, int]:
        now = self._clock.monotonic()
        ticket = self._admit(now)
        if ticket is None:
            raise CircuitOpenError(self.name, self._remaining(now))
        return ticket

    def _admit(self, now: float) -> tuple[int, int] | None:
        self._refresh(now)
        state = self._state
        if state is BreakerState.CLOSED:
            return (self._epoch, _NO_PROBE)
        if (state is BreakerState.HALF_OPEN
                and len(self._probes) < self._config.half_open_max_probes):
            probe = self._next_probe
            self._next_probe += 1
            self._probes[probe] = now + self._config.probe_timeout
            return (self._epoch, probe)
        if self._on_rejection:
            rejection = Rejection(self.name, state, self._remaining(now))
            for listener in self._on_rejection:
                listener(rejection)
        return None

    def _remaining(self, now: float) -> float:
        if self._state is BreakerState.OPEN:
            return max(0.0, self._opened_at + self._config.open_timeout - now)
        if (self._state is BreakerState.HALF_OPEN
                and len(self._probes) >= self._config.half_open_max_probes):
            return max(0.0, next(iter(self._probes.values())) - now)
        return 0.0

    def _refresh(self, now: float) -> None:
        state = self._state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.OPEN:
            if now >= self._opened_at + self._config.open_timeout:
                self._transition(BreakerState.HALF_OPEN, now, "open timeout elapsed")
        elif self._probes and next(iter(self._probes.values())) < now:
            self._transition(BreakerState.OPEN, now, "probe missed its deadline")

    def _record_unticketed(self, ok: bool) -> None:
        now = self._clock.monotonic()
        self._refresh(now)
        if self._state is BreakerState.CLOSED:
            self._closed_outcome(ok, now)
        elif self._state is BreakerState.HALF_OPEN and self._probes:
            self._probe_outcome(next(iter(self._probes)), ok, now)
        # OPEN, or HALF_OPEN with no probe out: a late result from before the breaker
        # opened; it says nothing about the dependency now.

    def _settle(self, ticket: tuple[int, int], ok: bool) -> None:
        now = self._clock.monotonic()
        self._refresh(now)
        epoch, probe = ticket
        if epoch != self._epoch:
            return  # admitted under an earlier state; that state has been judged
        if probe == _NO_PROBE:
            self._closed_outcome(ok, now)
        else:
            self._probe_outcome(probe, ok, now)

    def _release(self, ticket: tuple[int, int]) -> None:
        epoch, probe = ticket
        if epoch == self._epoch and probe != _NO_PROBE:
            self._probes.pop(probe, None)

    def _closed_outcome(self, ok: bool, now: float) -> None:
        window = self._window
        if ok:
            self._consecutive_failures = 0
            window.add(now, failed=False)
            return
        self._consecutive_failures += 1
        window.add(now, failed=True)
        cfg = self._config
        if self._consecutive_failures >= cfg.failure_threshold:
            self._transition(BreakerState.OPEN, now,
                             f"{self._consecutive_failures} consecutive failures")
        elif (window.calls >= cfg.minimum_calls
              and window.failures >= cfg.failure_rate_threshold * window.calls):
            self._transition(BreakerState.OPEN, now,
                             f"{window.failures}/{window.calls} calls failed in the window")

    def _probe_outcome(self, probe: int, ok: bool, now: float) -> None:
        if self._probes.pop(probe, None) is None:
            return
        # A probe reporting after its deadline never gets here: _refresh() has already
        # counted it as a failure and re-opened, which changed the epoch.
        if not ok:
            self._transition(BreakerState.OPEN, now, "probe failed")
        else:
            self._probe_successes += 1
            if self._probe_successes >= self._config.success_threshold:
                self._transition(BreakerState.CLOSED, now,
                                 f"{self._probe_successes} probes succeeded")

    def _transition(self, to: BreakerState, now: float, reason: str) -> None:
        before = self._state
        self._state = to
        self._epoch += 1
        self._probes.clear()
        self._probe_successes = 0
        if to is BreakerState.OPEN:
            self._opened_at = now
        elif to is BreakerState.CLOSED:
            self._consecutive_failures = 0
            self._window.reset()
        if self._on_state_change:
            change = StateChange(self.name, before, to, now, reason)
            for listener in self._on_state_change:
                listener(change)


def _current_task() -> asyncio.Task[object] | None:
    return asyncio.current_task()
