"""Recovery context: bounded history, immutable snapshots."""

from __future__ import annotations

import dataclasses

import pytest

from aureond.clock import FakeClock
from aureond.resilience import ErrorClass, RecoveryBook, RecoveryTracker
from aureond.resilience.recovery import MAX_RECORDED_ERRORS


def test_keeps_the_last_ten_errors_oldest_first() -> None:
    clock = FakeClock()
    tracker = RecoveryTracker("connect", clock)
    for i in range(15):
        tracker.record_attempt()
        tracker.record_error(ConnectionResetError(f"reset {i}"), ErrorClass.TEMPORARY)
        clock.advance(1.0)
    context = tracker.snapshot(next_backoff=0.25)
    assert len(context.errors) == MAX_RECORDED_ERRORS == 10
    assert [e.message for e in context.errors] == [f"reset {i}" for i in range(5, 15)]
    assert context.errors[0].at == clock.wall() - 10.0     # wall time of the 6th error
    assert context.attempts == 15
    assert context.elapsed == 15.0
    assert context.next_backoff == 0.25
    assert context.last_error is not None
    assert context.last_error.message == "reset 14"


def test_snapshot_is_frozen_and_detached() -> None:
    tracker = RecoveryTracker("op", FakeClock())
    tracker.record_error(TimeoutError("t"), ErrorClass.TIMEOUT)
    snapshot = tracker.snapshot()
    tracker.record_error(TimeoutError("later"), ErrorClass.TIMEOUT)
    assert len(snapshot.errors) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.attempts = 5  # type: ignore[misc]


def test_long_messages_are_cut() -> None:
    tracker = RecoveryTracker("op", FakeClock())
    record = tracker.record_error(ValueError("x" * 5000), ErrorClass.PERMANENT)
    assert len(record.message) == 200
    assert record.message.endswith("...")


def test_empty_context() -> None:
    context = RecoveryTracker("op", FakeClock()).snapshot()
    assert context.last_error is None
    assert context.attempts == 0


def test_book_keeps_one_recovery_per_key_until_it_recovers() -> None:
    clock = FakeClock()
    book: RecoveryBook[str] = RecoveryBook("connect", clock, max_keys=2)
    for _ in range(3):
        book.attempt("a")
        book.failed("a", ConnectionRefusedError("refused"), ErrorClass.TEMPORARY)
    book.attempt("b")
    book.failed_as("b", ErrorClass.TIMEOUT, "PeerDisconnected", "handshake ended: timeout")
    a = book.context("a")
    assert a is not None
    assert a.attempts == 3
    assert len(a.errors) == 3
    b = book.context("b")
    assert b is not None
    assert b.last_error is not None
    assert b.last_error.error_class is ErrorClass.TIMEOUT
    book.attempt("c")  # a third key pushes out the least recently touched ("a")
    assert book.context("a") is None
    assert len(book) == 2
    book.recovered("b")
    assert book.context("b") is None
