"""Message dispatch: command string <-> message value, and whole-frame encoding.

Unknown commands are not an error: they decode to :class:`Unknown`, which the caller
ignores. A malformed payload of a known command raises ``RemoteProtocolError`` naming
the command and the problem.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from aureond.errors import LocalProtocolError
from aureond.wire.framing import Frame, encode_command, encode_frame
from aureond.wire.messages_addr import Addr, AddrV2
from aureond.wire.messages_blocks import GetHeaders, Headers, MerkleBlock, Tx
from aureond.wire.messages_bloom import FilterAdd, FilterClear, FilterLoad
from aureond.wire.messages_control import (
    FeeFilter,
    GetAddr,
    Mempool,
    Ping,
    Pong,
    Protoconf,
    Reject,
    SendAddrV2,
    SendCmpct,
    SendHeaders,
    Verack,
    Version,
    WtxidRelay,
)
from aureond.wire.messages_inventory import GetData, Inv, NotFound

__all__ = [
    "MESSAGE_TYPES",
    "KnownMessage",
    "Message",
    "Unknown",
    "decode_frame",
    "decode_message",
    "encode_message",
    "message_command",
]


@dataclass(frozen=True, slots=True)
class Unknown:
    """A message with a command this codec does not know; its payload is kept raw."""

    command: str
    payload: bytes

    def __post_init__(self) -> None:
        encode_command(self.command)  # raises LocalProtocolError when invalid
        if not isinstance(self.payload, bytes):
            raise LocalProtocolError("an unknown message's payload must be bytes")

    def encode(self) -> bytes:
        return self.payload


KnownMessage = (
    Version | Verack | Ping | Pong | SendHeaders | SendCmpct | WtxidRelay | SendAddrV2
    | FeeFilter | GetAddr | Mempool | Reject | Protoconf
    | GetHeaders | Headers | MerkleBlock | Tx
    | Inv | GetData | NotFound
    | FilterLoad | FilterAdd | FilterClear
    | Addr | AddrV2
)
Message = KnownMessage | Unknown

#: Every message type the codec knows, keyed by its command.
MESSAGE_TYPES: Mapping[str, type[KnownMessage]] = MappingProxyType({
    cls.COMMAND: cls for cls in (
        Version, Verack, Ping, Pong, SendHeaders, SendCmpct, WtxidRelay, SendAddrV2,
        FeeFilter, GetAddr, Mempool, Reject, Protoconf,
        GetHeaders, Headers, MerkleBlock, Tx,
        Inv, GetData, NotFound,
        FilterLoad, FilterAdd, FilterClear,
        Addr, AddrV2,
    )
})

_DECODERS: Mapping[str, Callable[[bytes], KnownMessage]] = MappingProxyType(
    {command: cls.decode for command, cls in MESSAGE_TYPES.items()})


def message_command(msg: Message) -> str:
    """The command string a message travels under."""
    return msg.command if isinstance(msg, Unknown) else msg.COMMAND


def decode_message(command: str, payload: bytes) -> Message:
    """Decode a payload by its command; unknown commands give :class:`Unknown`."""
    decoder = _DECODERS.get(command)
    if decoder is None:
        return Unknown(command, bytes(payload))
    return decoder(payload)


def decode_frame(frame: Frame) -> Message:
    """Decode the payload of a frame from :class:`~aureond.wire.framing.FrameDecoder`."""
    return decode_message(frame.command, frame.payload)


def encode_message(msg: Message, magic: bytes, *, max_payload: int | None = None) -> bytes:
    """A complete frame carrying ``msg`` for the network with ``magic``."""
    return encode_frame(magic, message_command(msg), msg.encode(), max_payload=max_payload)
