"""Shared field checks for wire values and the decode-error boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aureond.errors import EncodingError, LocalProtocolError, RemoteProtocolError

__all__ = ["ZERO_HASH", "check_bytes", "check_int", "check_uint", "decoding"]

ZERO_HASH = bytes(32)


def check_uint(name: str, value: int, bits: int) -> None:
    """``value`` must fit an unsigned integer of ``bits`` bits."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << bits:
        raise LocalProtocolError(f"{name} must be a uint{bits}, got {value!r}")


def check_int(name: str, value: int, bits: int) -> None:
    """``value`` must fit a signed integer of ``bits`` bits."""
    half = 1 << (bits - 1)
    if isinstance(value, bool) or not isinstance(value, int) or not -half <= value < half:
        raise LocalProtocolError(f"{name} must be an int{bits}, got {value!r}")


def check_bytes(name: str, value: bytes, length: int) -> None:
    """``value`` must be exactly ``length`` bytes."""
    if not isinstance(value, bytes) or len(value) != length:
        raise LocalProtocolError(f"{name} must be {length} bytes, got {value!r}")


@contextmanager
def decoding(command: str) -> Iterator[None]:
    """Turn a decoding failure into the peer's protocol error, naming the command.

    Values are validated once, in their constructors, which raise
    ``LocalProtocolError``; a value built from the peer's bytes that fails there is
    the peer's fault, so it is reported as a ``RemoteProtocolError`` too.
    """
    try:
        yield
    except (EncodingError, LocalProtocolError) as exc:
        raise RemoteProtocolError(f"malformed {command} message: {exc}") from exc
