"""The pure Bitcoin P2P wire codec: framing and message values, no I/O.

Sans-I/O: :class:`FrameDecoder` turns received bytes into checksum-verified frames,
:func:`decode_message` turns a frame's payload into a frozen message value, and
:func:`encode_message` turns a value back into bytes to send. The network magic and
the payload limit are arguments; nothing here knows which network is in use.

Errors: a peer's bytes that break the protocol raise
:class:`~aureond.errors.RemoteProtocolError` (disconnect that peer); building a value
the protocol does not allow raises :class:`~aureond.errors.LocalProtocolError`.
"""

from __future__ import annotations

from aureond.wire.codec import (
    MESSAGE_TYPES,
    KnownMessage,
    Message,
    Unknown,
    decode_frame,
    decode_message,
    encode_message,
    message_command,
)
from aureond.wire.constants import (
    FRAME_HEADER_SIZE,
    MAX_ADDR_ENTRIES,
    MAX_HEADERS_RESULTS,
    MAX_INV_SIZE,
    MAX_LOCATOR_SIZE,
    MAX_USER_AGENT_LENGTH,
    PROTOCOL_VERSION,
    ServiceFlags,
)
from aureond.wire.framing import Frame, FrameDecoder, checksum, encode_frame
from aureond.wire.message_base import WireMessage
from aureond.wire.messages_addr import Addr, AddrV2
from aureond.wire.messages_blocks import GetHeaders, Headers, MerkleBlock, Tx
from aureond.wire.messages_bloom import BloomFlags, FilterAdd, FilterClear, FilterLoad
from aureond.wire.messages_control import (
    FeeFilter,
    GetAddr,
    Mempool,
    Ping,
    Pong,
    Protoconf,
    Reject,
    RejectCode,
    SendAddrV2,
    SendCmpct,
    SendHeaders,
    Verack,
    Version,
    WtxidRelay,
)
from aureond.wire.messages_inventory import GetData, Inv, InvType, InvVector, NotFound
from aureond.wire.netaddr import AddrEntry, AddrV2Entry, AddrV2Network, NetAddress

__all__ = [
    "FRAME_HEADER_SIZE",
    "MAX_ADDR_ENTRIES",
    "MAX_HEADERS_RESULTS",
    "MAX_INV_SIZE",
    "MAX_LOCATOR_SIZE",
    "MAX_USER_AGENT_LENGTH",
    "MESSAGE_TYPES",
    "PROTOCOL_VERSION",
    "Addr",
    "AddrEntry",
    "AddrV2",
    "AddrV2Entry",
    "AddrV2Network",
    "BloomFlags",
    "FeeFilter",
    "FilterAdd",
    "FilterClear",
    "FilterLoad",
    "Frame",
    "FrameDecoder",
    "GetAddr",
    "GetData",
    "GetHeaders",
    "Headers",
    "Inv",
    "InvType",
    "InvVector",
    "KnownMessage",
    "Mempool",
    "MerkleBlock",
    "Message",
    "NetAddress",
    "NotFound",
    "Ping",
    "Pong",
    "Protoconf",
    "Reject",
    "RejectCode",
    "SendAddrV2",
    "SendCmpct",
    "SendHeaders",
    "ServiceFlags",
    "Tx",
    "Unknown",
    "Verack",
    "Version",
    "WireMessage",
    "WtxidRelay",
    "checksum",
    "decode_frame",
    "decode_message",
    "encode_frame",
    "encode_message",
    "message_command",
]
