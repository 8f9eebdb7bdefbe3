"""Connection control messages: handshake, liveness, feature negotiation, legacy reject."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Self

from aureond.errors import EncodingError, LocalProtocolError
from aureond.wire._checks import check_int, check_uint, decoding
from aureond.wire.constants import (
    COMMAND_SIZE,
    MAX_MONEY,
    MAX_REJECT_MESSAGE_LENGTH,
    MAX_USER_AGENT_LENGTH,
)
from aureond.wire.message_base import EmptyMessage
from aureond.wire.netaddr import NetAddress
from aureond.wire.primitives import Reader, write_compact_size, write_var_bytes

__all__ = [
    "FeeFilter",
    "GetAddr",
    "Mempool",
    "Ping",
    "Pong",
    "Protoconf",
    "Reject",
    "RejectCode",
    "SendAddrV2",
    "SendCmpct",
    "SendHeaders",
    "Verack",
    "Version",
    "WtxidRelay",
]

_VERSION_HEAD = struct.Struct("<iQq")
_U64 = struct.Struct("<Q")
_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")
_U32 = struct.Struct("<I")


def _check_text(name: str, text: str, maximum: int) -> bytes:
    if not isinstance(text, str):
        raise LocalProtocolError(f"{name} must be a str, got {text!r}")
    raw = text.encode("utf-8")
    if len(raw) > maximum:
        raise LocalProtocolError(f"{name} is {len(raw)} bytes, over the limit of {maximum}")
    return raw


@dataclass(frozen=True, slots=True)
class Version:
    """``version``: the first message each side sends.

    ``relay`` is the BIP37 flag: None when the peer left it out (old peers may; it then
    means "relay"). ``extra`` holds bytes some nodes append after it (Bitcoin SV sends
    an association id); they are kept, not interpreted. The fields up to
    ``start_height`` are required.
    """

    COMMAND: ClassVar[str] = "version"

    version: int
    services: int
    timestamp: int
    receiver: NetAddress
    sender: NetAddress
    nonce: int
    user_agent: str
    start_height: int
    relay: bool | None = True
    extra: bytes = b""

    def __post_init__(self) -> None:
        check_int("version", self.version, 32)
        check_uint("services", self.services, 64)
        check_int("timestamp", self.timestamp, 64)
        check_uint("nonce", self.nonce, 64)
        _check_text("user_agent", self.user_agent, MAX_USER_AGENT_LENGTH)
        check_int("start_height", self.start_height, 32)
        if not isinstance(self.extra, bytes):
            raise LocalProtocolError("extra must be bytes")
        if self.extra and self.relay is None:
            raise LocalProtocolError("extra bytes need the relay flag before them")

    @property
    def relays_transactions(self) -> bool:
        """Whether the peer wants transaction announcements (absent flag means yes)."""
        return self.relay is not False

    def encode(self) -> bytes:
        parts = [
            _VERSION_HEAD.pack(self.version, self.services, self.timestamp),
            self.receiver.encode(),
            self.sender.encode(),
            _U64.pack(self.nonce),
            write_var_bytes(self.user_agent.encode("utf-8")),
            _I32.pack(self.start_height),
        ]
        if self.relay is not None:
            parts.append(b"\x01" if self.relay else b"\x00")
            parts.append(self.extra)
        return b"".join(parts)

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        with decoding(cls.COMMAND):
            r = Reader(payload)
            version = r.read_i32("version")
            services = r.read_u64("services")
            timestamp = r.read_i64("timestamp")
            receiver = NetAddress.read(r)
            sender = NetAddress.read(r)
            nonce = r.read_u64("nonce")
            user_agent = r.read_var_str(MAX_USER_AGENT_LENGTH, "user agent")
            start_height = r.read_i32("start height")
            relay = r.read_bool("relay") if r.remaining else None
            extra = r.read_rest()
            return cls(version, services, timestamp, receiver, sender, nonce, user_agent,
                       start_height, relay, extra)


@dataclass(frozen=True, slots=True)
class Verack(EmptyMessage):
    """``verack``: the peer accepted our ``version``."""

    COMMAND: ClassVar[str] = "verack"


@dataclass(frozen=True, slots=True)
class _Nonce:
    nonce: int

    COMMAND: ClassVar[str]

    def __post_init__(self) -> None:
        check_uint("nonce", self.nonce, 64)

    def encode(self) -> bytes:
        return _U64.pack(self.nonce)

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        with decoding(cls.COMMAND):
            r = Reader(payload)
            nonce = r.read_u64("nonce")
            r.expect_end()
            return cls(nonce)


@dataclass(frozen=True, slots=True)
class Ping(_Nonce):
    """``ping`` (BIP31): answer with a ``pong`` carrying the same nonce."""

    COMMAND: ClassVar[str] = "ping"


@dataclass(frozen=True, slots=True)
class Pong(_Nonce):
    """``pong`` (BIP31): the answer to a ``ping``."""

    COMMAND: ClassVar[str] = "pong"


@dataclass(frozen=True, slots=True)
class SendHeaders(EmptyMessage):
    """``sendheaders`` (BIP130): announce new blocks with ``headers``, not ``inv``."""

    COMMAND: ClassVar[str] = "sendheaders"


@dataclass(frozen=True, slots=True)
class WtxidRelay(EmptyMessage):
    """``wtxidrelay`` (BIP339), sent between ``version`` and ``verack``."""

    COMMAND: ClassVar[str] = "wtxidrelay"


@dataclass(frozen=True, slots=True)
class SendAddrV2(EmptyMessage):
    """``sendaddrv2`` (BIP155), sent between ``version`` and ``verack``."""

    COMMAND: ClassVar[str] = "sendaddrv2"


@dataclass(frozen=True, slots=True)
class GetAddr(EmptyMessage):
    """``getaddr``: ask for known peer addresses."""

    COMMAND: ClassVar[str] = "getaddr"


@dataclass(frozen=True, slots=True)
class Mempool(EmptyMessage):
    """``mempool`` (BIP35): ask for the peer's mempool transactions."""

    COMMAND: ClassVar[str] = "mempool"


@dataclass(frozen=True, slots=True)
class SendCmpct:
    """``sendcmpct`` (BIP152): compact block announcement preference and version."""

    COMMAND: ClassVar[str] = "sendcmpct"

    announce: bool
    version: int

    def __post_init__(self) -> None:
        if not isinstance(self.announce, bool):
            raise LocalProtocolError(f"announce must be a bool, got {self.announce!r}")
        check_uint("version", self.version, 64)

    def encode(self) -> bytes:
        return (b"\x01" if self.announce else b"\x00") + _U64.pack(self.version)

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        with decoding(cls.COMMAND):
            r = Reader(payload)
            announce = r.read_bool("announce")
            version = r.read_u64("version")
            r.expect_end()
            return cls(announce, version)


@dataclass(frozen=True, slots=True)
class FeeFilter:
    """``feefilter`` (BIP133): do not announce transactions paying less (sat/kvB).

    Any int64 decodes; like the reference node, a receiver should ignore a rate
    outside ``0..MAX_MONEY`` (see ``in_money_range``) rather than disconnect.
    """

    COMMAND: ClassVar[str] = "feefilter"

    fee_rate: int

    def __post_init__(self) -> None:
        check_int("fee_rate", self.fee_rate, 64)

    @property
    def in_money_range(self) -> bool:
        return 0 <= self.fee_rate <= MAX_MONEY

    def encode(self) -> bytes:
        return _I64.pack(self.fee_rate)

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        with decoding(cls.COMMAND):
            r = Reader(payload)
            fee_rate = r.read_i64("fee rate")
            r.expect_end()
            return cls(fee_rate)


class RejectCode(IntEnum):
    """BIP61 reject codes."""

    MALFORMED = 0x01
    INVALID = 0x10
    OBSOLETE = 0x11
    DUPLICATE = 0x12
    NONSTANDARD = 0x40
    DUST = 0x41
    INSUFFICIENT_FEE = 0x42
    CHECKPOINT = 0x43


@dataclass(frozen=True, slots=True)
class Reject:
    """``reject`` (BIP61, legacy): why the peer refused one of our messages.

    ``data`` is empty or the 32-byte hash of the refused block or transaction.
    ``code`` is kept as an int; ``RejectCode`` names the known ones.
    """

    COMMAND: ClassVar[str] = "reject"

    message: str
    code: int
    reason: str
    data: bytes = b""

    def __post_init__(self) -> None:
        _check_text("message", self.message, COMMAND_SIZE)
        check_uint("code", self.code, 8)
        _check_text("reason", self.reason, MAX_REJECT_MESSAGE_LENGTH)
        if not isinstance(self.data, bytes) or len(self.data) not in (0, 32):
            raise LocalProtocolError(f"reject data must be empty or 32 bytes, got {self.data!r}")

    def encode(self) -> bytes:
        return b"".join((write_var_bytes(self.message.encode("utf-8")), bytes((self.code,)),
                         write_var_bytes(self.reason.encode("utf-8")), self.data))

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        with decoding(cls.COMMAND):
            r = Reader(payload)
            message = r.read_var_str(COMMAND_SIZE, "message")
            code = r.read_u8("code")
            reason = r.read_var_str(MAX_REJECT_MESSAGE_LENGTH, "reason")
            data = r.read_rest()
            return cls(message, code, reason, data)


@dataclass(frozen=True, slots=True)
class Protoconf:
    """``protoconf`` (Bitcoin SV): the largest payload the peer is willing to receive.

    Wire form: a CompactSize field count, then ``max_recv_payload_length`` (u32) when
    the count is at least 1, then later fields (stream policies, ...). Parsing is
    lenient: fields after the first are kept raw in ``extra``.
    """

    COMMAND: ClassVar[str] = "protoconf"

    number_of_fields: int = 1
    max_recv_payload_length: int | None = None
    extra: bytes = b""

    def __post_init__(self) -> None:
        check_uint("number_of_fields", self.number_of_fields, 64)
        if (self.number_of_fields >= 1) != (self.max_recv_payload_length is not None):
            raise LocalProtocolError(
                "max_recv_payload_length is present exactly when number_of_fields >= 1")
        if self.max_recv_payload_length is not None:
            check_uint("max_recv_payload_length", self.max_recv_payload_length, 32)
        if not isinstance(self.extra, bytes):
            raise LocalProtocolError("extra must be bytes")

    @property
    def stream_policies(self) -> str | None:
        """The second field (a var_str of comma-separated policy names), if readable."""
        if self.number_of_fields < 2:
            return None
        try:
            return Reader(self.extra).read_var_str(len(self.extra), "stream policies")
        except EncodingError:
            return None

    def encode(self) -> bytes:
        parts = [write_compact_size(self.number_of_fields)]
        if self.max_recv_payload_length is not None:
            parts.append(_U32.pack(self.max_recv_payload_length))
        parts.append(self.extra)
        return b"".join(parts)

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        with decoding(cls.COMMAND):
            r = Reader(payload)
            fields = r.read_compact_size("number of fields")
            max_recv = r.read_u32("max recv payload length") if fields >= 1 else None
            return cls(fields, max_recv, r.read_rest())
