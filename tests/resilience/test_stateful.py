"""Hypothesis state machines: any sequence of outcomes and clock steps keeps the
breaker's and the bucket's invariants."""

from __future__ import annotations

import math

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from aureond.clock import FakeClock
from aureond.resilience import (
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    StateChange,
    TokenBucket,
)
from aureond.resilience.token_bucket import RateLimited

LEGAL = {
    (BreakerState.CLOSED, BreakerState.OPEN),
    (BreakerState.OPEN, BreakerState.HALF_OPEN),
    (BreakerState.HALF_OPEN, BreakerState.CLOSED),
    (BreakerState.HALF_OPEN, BreakerState.OPEN),
}

OPEN_TIMEOUT = 10.0
PROBE_TIMEOUT = 2.0


class BreakerMachine(RuleBasedStateMachine):
    """Drives the synchronous API the way a caller honouring its contract would."""

    @initialize(threshold=st.integers(1, 4), probes=st.integers(1, 3),
                successes=st.integers(1, 3), minimum=st.integers(1, 8))
    def setup(self, threshold: int, probes: int, successes: int, minimum: int) -> None:
        self.clock = FakeClock()
        self.max_probes = probes
        self.breaker = CircuitBreaker("b", self.clock, BreakerConfig(
            failure_threshold=threshold, minimum_calls=minimum, window_seconds=5.0,
            failure_rate_threshold=0.5, open_timeout=OPEN_TIMEOUT,
            half_open_max_probes=probes, probe_timeout=PROBE_TIMEOUT,
            success_threshold=successes))
        self.opened_at: float | None = None
        self.changes: list[tuple[BreakerState, BreakerState]] = []
        self.outstanding = 0
        self.breaker.on_state_change(self._changed)

    def _changed(self, change: StateChange) -> None:
        assert (change.from_state, change.to_state) in LEGAL
        if self.changes:
            assert self.changes[-1][1] is change.from_state
        if change.from_state is BreakerState.OPEN:
            assert self.opened_at is not None
            assert change.at >= self.opened_at + OPEN_TIMEOUT, "left OPEN before the timeout"
        self.changes.append((change.from_state, change.to_state))
        self.opened_at = change.at if change.to_state is BreakerState.OPEN else None

    @rule()
    def allow(self) -> None:
        state = self.breaker.state
        admitted = self.breaker.allow()
        if state is BreakerState.OPEN:
            assert not admitted, "an open breaker admitted a call before its timeout"
        if state is BreakerState.CLOSED:
            assert admitted
        if admitted:
            self.outstanding += 1

    @precondition(lambda self: self.outstanding > 0)
    @rule(ok=st.booleans())
    def record(self, ok: bool) -> None:
        self.outstanding -= 1
        self.breaker.record_success() if ok else self.breaker.record_failure()

    @precondition(lambda self: self.outstanding > 0)
    @rule()
    def release(self) -> None:
        self.outstanding -= 1
        self.breaker.release()

    @rule(seconds=st.sampled_from([0.0, 0.5, 1.9, 2.0, 2.1, 5.0, 9.99, 10.0, 30.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @invariant()
    def state_is_legal(self) -> None:
        assert self.breaker.state in set(BreakerState)

    @invariant()
    def half_open_admits_at_most_n_probes(self) -> None:
        assert 0 <= self.breaker.probes_in_flight <= self.max_probes
        if self.breaker.state is not BreakerState.HALF_OPEN:
            assert self.breaker.probes_in_flight == 0

    @invariant()
    def open_lasts_exactly_the_timeout(self) -> None:
        state = self.breaker.state
        if state is BreakerState.OPEN:
            assert self.opened_at is not None
            now = self.clock.monotonic()
            assert now < self.opened_at + OPEN_TIMEOUT
            assert math.isclose(self.breaker.remaining_open_time(),
                                self.opened_at + OPEN_TIMEOUT - now, abs_tol=1e-9)
        else:
            assert self.breaker.remaining_open_time() <= PROBE_TIMEOUT + 1e-9


TestBreakerMachine = BreakerMachine.TestCase
TestBreakerMachine.settings = settings(max_examples=150, stateful_step_count=60,
                                       deadline=None)


class BucketMachine(RuleBasedStateMachine):
    """try_acquire / time_until_available against a reference model."""

    @initialize(capacity=st.integers(1, 20), rate=st.sampled_from([0.1, 0.5, 1.0, 3.0, 100.0]),
                fill=st.floats(0.0, 1.0))
    def setup(self, capacity: int, rate: float, fill: float) -> None:
        self.clock = FakeClock()
        self.capacity = float(capacity)
        self.rate = rate
        self.bucket = TokenBucket(capacity, rate, self.clock, initial=capacity * fill)
        self.model = capacity * fill
        self.refusals: list[RateLimited] = []
        self.bucket.on_rate_limited(self.refusals.append)

    def _n(self, fraction: float) -> float:
        return max(1e-3, self.capacity * fraction)

    @rule(fraction=st.floats(0.0, 1.0))
    def try_acquire(self, fraction: float) -> None:
        n = self._n(fraction)
        before = len(self.refusals)
        wait = self.bucket.time_until_available(n)
        ok = self.bucket.try_acquire(n)
        assert ok == (wait == 0.0)
        if ok:
            self.model = max(0.0, self.model - n)
            assert len(self.refusals) == before
        else:
            assert len(self.refusals) == before + 1
            assert math.isclose(self.refusals[-1].retry_after, wait, rel_tol=1e-9)

    @rule(fraction=st.floats(0.0, 1.0))
    def wait_then_acquire(self, fraction: float) -> None:
        n = self._n(fraction)
        wait = self.bucket.time_until_available(n)
        self.clock.advance(wait)
        self.model = min(self.capacity, self.model + wait * self.rate)
        assert self.bucket.try_acquire(n), "tokens were not there after the announced wait"
        self.model = max(0.0, self.model - n)

    @rule(seconds=st.floats(0.0, 50.0))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.model = min(self.capacity, self.model + seconds * self.rate)

    @invariant()
    def tokens_within_bounds_and_match_the_model(self) -> None:
        tokens = self.bucket.tokens
        assert 0.0 <= tokens <= self.capacity
        assert math.isclose(tokens, self.model, rel_tol=1e-9, abs_tol=1e-6)


TestBucketMachine = BucketMachine.TestCase
TestBucketMachine.settings = settings(max_examples=150, stateful_step_count=50, deadline=None)
