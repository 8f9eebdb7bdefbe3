"""Error classes: what an exception means for recovery.

Every recovery decision (retry or not, count toward a breaker or not) is made on an
:class:`ErrorClass`, never on an exception type directly, and :func:`classify` is the one
place that maps exceptions to classes:

==========================================  ==============
exception                                   class
==========================================  ==============
``TimeoutError`` (also ``asyncio``'s)        TIMEOUT
``ConnectionError`` (refused, reset, ...)    TEMPORARY
``asyncio.IncompleteReadError``              TEMPORARY
``OSError`` with a transient network errno   TEMPORARY
``CircuitOpenError``                         CIRCUIT_OPEN
``RateLimitedError``                         RATE_LIMITED
``RemoteProtocolError``, ``ChainError``,     PERMANENT
``ConfigError``
any other ``OSError`` (no file, no access)   PERMANENT
anything else                                PERMANENT
==========================================  ==============

Unknown exceptions are PERMANENT on purpose: only failures known to be transient are
worth repeating. Retrying a bug or an unforeseen condition multiplies the load on the
other side, delays the error report and hides the fault. A caller that knows better
passes an ``extra`` table (exception type -> class) for its own exceptions; there is
no process-wide registry.
"""

from __future__ import annotations

import asyncio
import enum
import errno
import socket
from collections.abc import Mapping

from aureond.errors import (
    ChainError,
    CircuitOpenError,
    ConfigError,
    RateLimitedError,
    RemoteProtocolError,
)

__all__ = ["ErrorClass", "ErrorTable", "classify"]


class ErrorClass(enum.Enum):
    """How a failure should be treated by the recovery layer."""

    TEMPORARY = "temporary"
    """Transient: the same call may succeed later (connection refused or reset)."""
    PERMANENT = "permanent"
    """Repeating the call cannot help (invalid data, a bug, a bad configuration)."""
    TIMEOUT = "timeout"
    """The other side did not answer in time; retrying may help."""
    CIRCUIT_OPEN = "circuit_open"
    """A local circuit breaker refused; retrying now only hits the breaker again."""
    RATE_LIMITED = "rate_limited"
    """A rate limit refused; retry after the time it gives."""

    @property
    def retryable(self) -> bool:
        """Whether a retry policy may repeat a call that failed this way."""
        return self in _RETRYABLE


ErrorTable = Mapping[type[BaseException], ErrorClass]
"""Extra exception type -> class entries for :func:`classify`."""

_RETRYABLE = frozenset({ErrorClass.TEMPORARY, ErrorClass.TIMEOUT, ErrorClass.RATE_LIMITED})

# errnos of plain OSErrors (no dedicated subclass) that mean "the network, for now".
_TRANSIENT_ERRNOS = frozenset(
    code for code in (
        getattr(errno, name, None) for name in (
            "ENETUNREACH", "EHOSTUNREACH", "ENETDOWN", "EHOSTDOWN", "ENETRESET",
            "ECONNABORTED", "ECONNRESET", "ECONNREFUSED", "EPIPE", "EAGAIN",
            "EADDRNOTAVAIL", "ENOBUFS",
        )
    ) if code is not None
)

# Checked along the exception's MRO, most specific class first.
_BUILTIN: dict[type[BaseException], ErrorClass] = {
    CircuitOpenError: ErrorClass.CIRCUIT_OPEN,
    RateLimitedError: ErrorClass.RATE_LIMITED,
    RemoteProtocolError: ErrorClass.PERMANENT,
    ChainError: ErrorClass.PERMANENT,
    ConfigError: ErrorClass.PERMANENT,
    TimeoutError: ErrorClass.TIMEOUT,
    ConnectionError: ErrorClass.TEMPORARY,
    # The other side closed the stream in the middle of a message: a dropped
    # connection, like a reset, not a statement about the data.
    asyncio.IncompleteReadError: ErrorClass.TEMPORARY,
}


def _classify_os_error(exc: OSError) -> ErrorClass:
    if isinstance(exc, socket.gaierror):
        # A resolver that is temporarily unable to answer; a name that does not exist
        # will not start existing on the next attempt.
        return ErrorClass.TEMPORARY if exc.errno == socket.EAI_AGAIN else ErrorClass.PERMANENT
    if exc.errno in _TRANSIENT_ERRNOS:
        return ErrorClass.TEMPORARY
    return ErrorClass.PERMANENT


def classify(exc: BaseException, extra: ErrorTable | None = None) -> ErrorClass:
    """The :class:`ErrorClass` of ``exc``.

    ``extra`` maps further exception types to classes; it is consulted before the
    built-in table at each step of the exception's MRO, so the most specific registered
    type wins and ``extra`` overrides the built-in entry for the same type. To give a
    component a custom mapping, pass ``functools.partial(classify, extra=table)``
    wherever a classifier is accepted.
    """
    for cls in type(exc).__mro__:
        if extra is not None:
            found = extra.get(cls)
            if found is not None:
                return found
        builtin = _BUILTIN.get(cls)
        if builtin is not None:
            return builtin
        if cls is OSError and isinstance(exc, OSError):
            return _classify_os_error(exc)
    return ErrorClass.PERMANENT
