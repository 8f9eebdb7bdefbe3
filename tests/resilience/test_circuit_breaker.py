"""Circuit breaker: transitions, probes, rejections, failure accounting, both APIs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aureond.clock import FakeClock
from aureond.errors import CircuitOpenError, ConfigError
from aureond.resilience import (
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    Rejection,
    StateChange,
)

CLOSED, OPEN, HALF = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


def make(clock: FakeClock | None = None, **overrides: Any) -> tuple[CircuitBreaker, FakeClock,
                                                                     list[StateChange]]:
    settings: dict[str, Any] = {"failure_threshold": 3, "minimum_calls": 1000,
                                "open_timeout": 30.0, "half_open_max_probes": 1,
                                "probe_timeout": 5.0, "success_threshold": 2}
    settings.update(overrides)
    clock = clock or FakeClock()
    breaker = CircuitBreaker("peer-1", clock, BreakerConfig(**settings))
    changes: list[StateChange] = []
    breaker.on_state_change(changes.append)
    return breaker, clock, changes


def run(breaker: CircuitBreaker, clock: FakeClock, script: str) -> list[BreakerState]:
    """Drive the sync API: s=success, f=failure, r=refused-expected, digits=advance s."""
    seen = []
    for step in script.split():
        if step in ("s", "f"):
            assert breaker.allow(), f"step {step!r} was refused in {breaker.state}"
            breaker.record_success() if step == "s" else breaker.record_failure()
        elif step == "r":
            assert not breaker.allow()
        else:
            clock.advance(float(step))
        seen.append(breaker.state)
    return seen


@pytest.mark.parametrize(("script", "final"), [
    ("f f", CLOSED),                      # below the threshold
    ("f f f", OPEN),                    # consecutive failures reach it
    ("f f s f f", CLOSED),                # a success resets the run
    ("f f f r r", OPEN),                # open refuses
    ("f f f 29.9 r", OPEN),             # ...until the open timeout
    ("f f f 30", HALF),                 # then admits probes
    ("f f f 30 s", HALF),               # one probe success is not enough
    ("f f f 30 s s", CLOSED),             # success_threshold probes close it
    ("f f f 30 s f", OPEN),             # any half-open failure re-opens
    ("f f f 30 f 29 r 1 s s", CLOSED),    # re-opened for a full timeout, then recovers
    ("f f f 30 s s f f", CLOSED),         # closing starts a fresh failure count
])
def test_transition_table(script: str, final: BreakerState) -> None:
    breaker, clock, _ = make()
    assert run(breaker, clock, script)[-1] is final


def test_transitions_are_reported_in_order_with_reasons() -> None:
    breaker, clock, changes = make()
    run(breaker, clock, "f f f 30 s f 30 s s")
    assert [(c.from_state, c.to_state) for c in changes] == [
        (CLOSED, OPEN), (OPEN, HALF), (HALF, OPEN), (OPEN, HALF), (HALF, CLOSED)]
    assert changes[0].reason == "3 consecutive failures"
    assert changes[0].at == 1000.0
    assert all(c.breaker == "peer-1" for c in changes)


@pytest.mark.parametrize(("outcomes", "opens_at"), [
    ("sf" * 5, 10),                  # 5/10 failed once the window holds 10 calls
    ("ssf" * 10, None),              # 1/3 stays under the 50% threshold
    ("ffs" * 4, 10),                 # never 3 in a row; 7/10 at the 10th call
    ("ffsffsffss" + "f", 11),        # the rate is judged when a failure comes in
    ("f" * 9, None),                 # 9 failures, but fewer calls than minimum_calls
])
def test_failure_rate_opens_after_minimum_calls(outcomes: str, opens_at: int | None) -> None:
    breaker, _, _ = make(failure_threshold=100, minimum_calls=10,
                         failure_rate_threshold=0.5, window_seconds=60.0)
    opened = None
    for index, outcome in enumerate(outcomes, start=1):
        assert breaker.allow()
        breaker.record_success() if outcome == "s" else breaker.record_failure()
        if breaker.state is OPEN:
            opened = index
            break
    assert opened == opens_at


def test_failure_rate_window_slides() -> None:
    breaker, clock, _ = make(failure_threshold=100, minimum_calls=4,
                             failure_rate_threshold=0.5, window_seconds=10.0)
    for _ in range(3):
        breaker.allow()
        breaker.record_failure()   # 3 failures, below minimum_calls
    clock.advance(11.0)           # they leave the window
    for _ in range(3):
        breaker.allow()
        breaker.record_success()
    breaker.allow()
    breaker.record_failure()      # window: 3 successes, 1 failure = 25%
    assert breaker.state is CLOSED
    breaker.allow()
    breaker.record_failure()      # 2/5 = 40%
    assert breaker.state is CLOSED
    breaker.allow()
    breaker.record_failure()      # 3/6 = 50%
    assert breaker.state is OPEN


async def test_rejection_carries_remaining_open_time() -> None:
    breaker, clock, _ = make()
    run(breaker, clock, "f f f 12")
    rejections: list[Rejection] = []
    breaker.on_rejection(rejections.append)
    with pytest.raises(CircuitOpenError) as info:
        await breaker.call(_ok)
    assert info.value.remaining == pytest.approx(18.0)
    assert info.value.name == "peer-1"
    assert breaker.remaining_open_time() == pytest.approx(18.0)
    assert [r.state for r in rejections] == [OPEN]
    assert rejections[0].remaining == pytest.approx(18.0)


def test_half_open_admits_at_most_max_probes() -> None:
    breaker, clock, _ = make(half_open_max_probes=2, success_threshold=3)
    run(breaker, clock, "f f f 30")
    assert breaker.allow()
    assert breaker.allow()
    assert not breaker.allow()
    assert breaker.probes_in_flight == 2
    assert breaker.remaining_open_time() == pytest.approx(5.0)  # first probe deadline
    breaker.record_success()
    assert breaker.allow()        # the slot came back
    assert not breaker.allow()


def test_probe_past_its_deadline_counts_as_failure() -> None:
    breaker, clock, changes = make()
    run(breaker, clock, "f f f 30")
    assert breaker.allow()
    clock.advance(5.1)
    assert breaker.state is OPEN
    assert changes[-1].reason == "probe missed its deadline"
    breaker.record_success()      # the late answer changes nothing
    assert breaker.state is OPEN


async def test_probe_that_succeeds_late_reopens() -> None:
    breaker, clock, changes = make()
    run(breaker, clock, "f f f 30")

    async def slow() -> int:
        clock.advance(6.0)
        return 1

    assert await breaker.call(slow) == 1   # the caller still gets its result
    assert breaker.state is OPEN
    assert changes[-1].reason == "probe missed its deadline"


async def test_cancellation_never_counts_and_frees_the_probe() -> None:
    breaker, clock, _ = make(failure_threshold=1)
    started = asyncio.Event()

    async def hang() -> None:
        started.set()
        await asyncio.Event().wait()

    for _ in range(3):
        task = asyncio.create_task(breaker.call(hang))
        await started.wait()
        started.clear()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert breaker.state is CLOSED      # three cancellations, threshold 1, still closed

    run(breaker, clock, "f 30")
    task = asyncio.create_task(breaker.call(hang))
    await started.wait()
    assert not breaker.allow()     # the one probe slot is taken
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.state is HALF
    assert breaker.probes_in_flight == 0


async def test_failure_types_and_ignored_types() -> None:
    breaker, _, _ = make(failure_threshold=1, failure_types=(ConnectionError, TimeoutError),
                         ignored_types=(ConnectionAbortedError,))

    async def raise_(exc: Exception) -> None:
        raise exc

    for exc in (ValueError("bad input"), ConnectionAbortedError()):
        with pytest.raises(type(exc)):
            await breaker.call(lambda e=exc: raise_(e))  # type: ignore[misc]
        assert breaker.state is CLOSED   # re-raised, but not the dependency's failure
    with pytest.raises(ConnectionResetError):
        await breaker.call(lambda: raise_(ConnectionResetError()))
    assert breaker.state is OPEN


async def test_async_context_manager() -> None:
    breaker, clock, _ = make(failure_threshold=2)
    async with breaker:
        pass
    for _ in range(2):
        with pytest.raises(ConnectionError):
            async with breaker:
                raise ConnectionError("reset")
    assert breaker.state is OPEN
    with pytest.raises(CircuitOpenError):
        async with breaker:
            pytest.fail("an open breaker must not run the body")
    clock.advance(30.0)
    for _ in range(2):             # two probes, one at a time
        async with breaker:
            pass
    assert breaker.state is CLOSED
    async with breaker:
        with pytest.raises(ConnectionError):
            async with breaker:    # nested use in one task settles its own admissions
                raise ConnectionError("inner")
    assert breaker.state is CLOSED


async def test_concurrent_context_managers_settle_their_own_admissions() -> None:
    breaker, clock, _ = make(half_open_max_probes=2, success_threshold=2)
    run(breaker, clock, "f f f 30")
    gate = asyncio.Event()

    async def probe(fail: bool) -> None:
        async with breaker:
            await gate.wait()
            if fail:
                raise ConnectionError("still down")

    good = asyncio.create_task(probe(False))
    bad = asyncio.create_task(probe(True))
    await asyncio.sleep(0)
    assert breaker.probes_in_flight == 2
    gate.set()
    await good
    with pytest.raises(ConnectionError):
        await bad
    assert breaker.state is OPEN      # one failed probe re-opens despite the other's success


async def test_outcome_from_before_opening_is_ignored() -> None:
    breaker, clock, changes = make(failure_threshold=1)
    release = asyncio.Event()

    async def late() -> None:
        await release.wait()

    straggler = asyncio.create_task(breaker.call(late))
    await asyncio.sleep(0)
    assert breaker.allow()
    breaker.record_failure()       # opens
    clock.advance(30.0)
    assert breaker.state is HALF
    release.set()
    await straggler                # admitted while closed: not a probe
    assert breaker.state is HALF
    assert len(changes) == 2


def test_sync_records_without_admission_in_half_open_are_ignored() -> None:
    breaker, clock, _ = make()
    run(breaker, clock, "f f f 30")
    breaker.record_success()
    breaker.record_success()
    assert breaker.state is HALF      # no probe was out: nothing to judge


def test_check_raises_and_release_frees() -> None:
    breaker, clock, _ = make()
    run(breaker, clock, "f f f")
    with pytest.raises(CircuitOpenError):
        breaker.check()
    clock.advance(30.0)
    breaker.check()
    assert breaker.probes_in_flight == 1
    breaker.release()
    assert breaker.probes_in_flight == 0


def test_unsubscribe() -> None:
    breaker, clock, changes = make()
    more: list[StateChange] = []
    stop = breaker.on_state_change(more.append)
    run(breaker, clock, "f f f")
    stop()
    run(breaker, clock, "30")
    assert len(changes) == 2
    assert len(more) == 1


@pytest.mark.parametrize(("field", "value"), [
    ("failure_threshold", 0), ("minimum_calls", 0), ("half_open_max_probes", 0),
    ("success_threshold", 0), ("window_seconds", 0.0), ("open_timeout", -1.0),
    ("probe_timeout", 0.0), ("failure_rate_threshold", 0.0),
    ("failure_rate_threshold", 1.5),
])
def test_config_validation_names_the_field(field: str, value: float) -> None:
    with pytest.raises(ConfigError) as info:
        BreakerConfig(**{field: value})  # type: ignore[arg-type]
    assert info.value.field == field


async def _ok() -> int:
    return 1
