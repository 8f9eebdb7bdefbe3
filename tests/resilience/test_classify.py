"""The one exception -> ErrorClass mapping, entry by entry."""

from __future__ import annotations

import asyncio
import errno
import functools
import socket

import pytest

from aureond.errors import (
    ChainError,
    CircuitOpenError,
    ConfigError,
    EncodingError,
    HeaderRejectedError,
    RateLimitedError,
    RemoteProtocolError,
    RetryExhaustedError,
    StoreError,
)
from aureond.resilience import ErrorClass, ErrorTable, classify

T, P, TO, CO, RL = (ErrorClass.TEMPORARY, ErrorClass.PERMANENT, ErrorClass.TIMEOUT,
                    ErrorClass.CIRCUIT_OPEN, ErrorClass.RATE_LIMITED)


class _AppError(Exception):
    pass


class _AppSubError(_AppError):
    pass


CASES: list[tuple[str, BaseException, ErrorClass]] = [
    ("builtin timeout", TimeoutError("slow"), TO),
    ("asyncio timeout", asyncio.TimeoutError(), TO),  # noqa: UP041 - the alias on purpose
    ("OSError(ETIMEDOUT) becomes TimeoutError", OSError(errno.ETIMEDOUT, "timed out"), TO),
    ("connection refused", ConnectionRefusedError(errno.ECONNREFUSED, "refused"), T),
    ("connection reset", ConnectionResetError(errno.ECONNRESET, "reset"), T),
    ("broken pipe", BrokenPipeError(errno.EPIPE, "pipe"), T),
    ("plain ConnectionError", ConnectionError("closed"), T),
    ("stream closed mid-message", asyncio.IncompleteReadError(b"ab", 24), T),
    ("other EOFError", EOFError(), P),
    ("network unreachable", OSError(errno.ENETUNREACH, "unreachable"), T),
    ("host unreachable", OSError(errno.EHOSTUNREACH, "unreachable"), T),
    ("resolver busy", socket.gaierror(socket.EAI_AGAIN, "try again"), T),
    ("unknown host name", socket.gaierror(socket.EAI_NONAME, "no such name"), P),
    ("file missing", FileNotFoundError(errno.ENOENT, "missing"), P),
    ("permission denied", PermissionError(errno.EACCES, "denied"), P),
    ("OSError without errno", OSError("odd"), P),
    ("peer broke the protocol", RemoteProtocolError("bad magic"), P),
    ("chain rule", HeaderRejectedError(5, "bits", "bad-diffbits"), P),
    ("encoding", EncodingError("short"), P),
    ("chain root", ChainError("x"), P),
    ("config", ConfigError("port", "not a number"), P),
    ("breaker open", CircuitOpenError("peer-1", 2.0), CO),
    ("rate limited", RateLimitedError("http", 0.5), RL),
    ("retries exhausted is final", RetryExhaustedError("op", 3), P),
    ("store", StoreError("disk"), P),
    ("a bug", ValueError("boom"), P),
    ("unknown exception", _AppError(), P),
    ("cancellation", asyncio.CancelledError(), P),
]


@pytest.mark.parametrize(("exc", "expected"), [(e, c) for _, e, c in CASES],
                         ids=[name for name, _, _ in CASES])
def test_builtin_table(exc: BaseException, expected: ErrorClass) -> None:
    assert classify(exc) is expected


def test_extra_table_covers_subclasses_and_overrides_builtin() -> None:
    extra: ErrorTable = {_AppError: T, ConnectionResetError: P}
    assert classify(_AppSubError(), extra) is T
    assert classify(ConnectionResetError(), extra) is P
    assert classify(ConnectionRefusedError(), extra) is T  # untouched builtin entry


def test_most_specific_registration_wins() -> None:
    extra: ErrorTable = {_AppError: T, _AppSubError: TO}
    assert classify(_AppSubError(), extra) is TO
    assert classify(_AppError(), extra) is T


def test_partial_is_a_classifier_without_global_state() -> None:
    custom = functools.partial(classify, extra={_AppError: RL})
    assert custom(_AppError()) is RL
    assert classify(_AppError()) is P


@pytest.mark.parametrize(("cls", "retryable"), [(T, True), (TO, True), (RL, True),
                                                (P, False), (CO, False)])
def test_retryable(cls: ErrorClass, retryable: bool) -> None:
    assert cls.retryable is retryable
