"""What every wire message value offers, and the base of the payload-less ones."""

from __future__ import annotations

from typing import ClassVar, Protocol, Self

from aureond.errors import RemoteProtocolError

__all__ = ["EmptyMessage", "WireMessage"]


class WireMessage(Protocol):
    """A message value: its command, and a codec between itself and its payload.

    ``decode`` raises ``RemoteProtocolError`` naming the command for any malformed
    payload; constructing (hence encoding) an invalid value raises
    ``LocalProtocolError``.
    """

    COMMAND: ClassVar[str]

    def encode(self) -> bytes: ...

    @classmethod
    def decode(cls, payload: bytes) -> Self: ...


class EmptyMessage:
    """Base of messages whose payload is empty; any payload byte is an error."""

    __slots__ = ()
    COMMAND: ClassVar[str]

    def encode(self) -> bytes:
        return b""

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        if payload:
            raise RemoteProtocolError(
                f"malformed {cls.COMMAND} message: payload must be empty, got "
                f"{len(payload)} byte(s)")
        return cls()
