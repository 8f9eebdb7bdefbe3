"""Every message type: round trips, strictness, bounds and leniency."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from aureond.chain.header import BlockHeader
from aureond.errors import LocalProtocolError, RemoteProtocolError
from aureond.wire import (
    MESSAGE_TYPES,
    Addr,
    AddrEntry,
    AddrV2,
    AddrV2Entry,
    AddrV2Network,
    FeeFilter,
    FilterAdd,
    FilterLoad,
    FrameDecoder,
    GetData,
    GetHeaders,
    Headers,
    Inv,
    InvType,
    InvVector,
    Message,
    NetAddress,
    Ping,
    Protoconf,
    Reject,
    SendCmpct,
    Tx,
    Unknown,
    Version,
    decode_frame,
    decode_message,
    encode_message,
    message_command,
)
from aureond.wire.primitives import write_compact_size, write_var_bytes
from tests.wire.strategies import MESSAGE_STRATEGIES, any_message

MAGIC = bytes.fromhex("dab5bffa")
ZERO = bytes(32)
# Payloads where bytes after the required fields are legal (kept, not refused).
LENIENT = {"version", "protoconf", "tx"}
HEADER = BlockHeader(1, ZERO, ZERO, 1231006505, 0x1D00FFFF, 2083236893)


def test_every_known_command_has_a_strategy() -> None:
    assert set(MESSAGE_STRATEGIES) == set(MESSAGE_TYPES)
    for command, cls in MESSAGE_TYPES.items():
        assert command == cls.COMMAND


@pytest.mark.parametrize("command", sorted(MESSAGE_STRATEGIES))
@given(data=st.data())
def test_round_trip(command: str, data: st.DataObject) -> None:
    msg = data.draw(MESSAGE_STRATEGIES[command])
    payload = msg.encode()
    decoded = decode_message(command, payload)
    assert decoded == msg
    assert type(decoded) is type(msg)
    assert decoded.encode() == payload


@given(any_message)
def test_round_trip_through_frames(msg: Message) -> None:
    frame_bytes = encode_message(msg, MAGIC)
    [frame] = FrameDecoder(MAGIC, 2_097_152).feed(frame_bytes)
    assert frame.command == message_command(msg)
    assert decode_frame(frame) == msg


@pytest.mark.parametrize("command", sorted(set(MESSAGE_STRATEGIES) - LENIENT))
@given(data=st.data())
def test_strict_messages_refuse_trailing_garbage(command: str, data: st.DataObject) -> None:
    msg = data.draw(MESSAGE_STRATEGIES[command])
    garbage = data.draw(st.binary(min_size=1, max_size=8))
    with pytest.raises(RemoteProtocolError, match=f"malformed {command} message"):
        decode_message(command, msg.encode() + garbage)


@pytest.mark.parametrize("command", sorted(set(MESSAGE_STRATEGIES) - LENIENT))
@given(data=st.data())
def test_strict_messages_refuse_truncation(command: str, data: st.DataObject) -> None:
    msg = data.draw(MESSAGE_STRATEGIES[command])
    payload = msg.encode()
    if not payload:
        return
    cut = data.draw(st.integers(0, len(payload) - 1))
    # a reject without its optional 32-byte hash is itself a valid reject
    assume(not (isinstance(msg, Reject) and msg.data and cut == len(payload) - 32))
    with pytest.raises(RemoteProtocolError, match=f"malformed {command} message"):
        decode_message(command, payload[:cut])


@settings(max_examples=40)
@pytest.mark.parametrize("command", sorted(MESSAGE_STRATEGIES))
@given(payload=st.binary(max_size=200))
def test_fuzz_message_or_remote_protocol_error(command: str, payload: bytes) -> None:
    """Arbitrary payloads: a message of the right type or RemoteProtocolError, nothing else."""
    try:
        msg = decode_message(command, payload)
    except RemoteProtocolError:
        return
    assert message_command(msg) == command


def test_unknown_command_is_a_value_not_an_error() -> None:
    msg = decode_message("authch", b"\x01\x02")
    assert msg == Unknown("authch", b"\x01\x02")
    assert encode_message(msg, MAGIC)[4:16] == b"authch\x00\x00\x00\x00\x00\x00"


def _inv_payload(count: int, items: int | None = None) -> bytes:
    body = (b"\x02\x00\x00\x00" + ZERO) * (count if items is None else items)
    return write_compact_size(count) + body


# (command, payload, expected fragment of the error)
MALFORMED = [
    ("verack", b"\x00", "payload must be empty"),
    ("ping", bytes(7), "needs 8 bytes"),
    ("pong", b"", "needs 8 bytes"),
    ("sendcmpct", b"\x01", "needs 8 bytes"),
    ("feefilter", bytes(9), "trailing"),
    ("headers", write_compact_size(2001) + bytes(2001 * 81), "exceeds the limit of 2000"),
    ("headers", b"\x01" + HEADER.serialize() + b"\x01", "tx count 1; it must be 0"),
    ("headers", b"\x01" + HEADER.serialize() + b"\xfd\x00\x00", "non-canonical"),
    ("headers", b"\x02" + HEADER.serialize() + b"\x00", "needs at least 162 bytes"),
    ("inv", _inv_payload(50_001), "exceeds the limit of 50000"),
    ("getdata", _inv_payload(3, 2), "needs at least 108 bytes"),
    ("notfound", b"\xfd\x01\x00" + _inv_payload(1)[1:], "non-canonical"),
    ("getheaders", bytes(4) + write_compact_size(102) + bytes(103 * 32),
     "exceeds the limit of 101"),
    ("getheaders", bytes(4) + b"\x00", "hash stop: needs 32 bytes"),
    ("addr", write_compact_size(1001) + bytes(1001 * 30), "exceeds the limit of 1000"),
    ("addrv2", write_compact_size(1001) + bytes(1001 * 9), "exceeds the limit of 1000"),
    ("addrv2", b"\x01" + bytes(4) + b"\x00\x01" + write_var_bytes(bytes(5)) + bytes(2),
     "IPV4 needs a 4-byte address"),
    ("addrv2", b"\x01" + bytes(4) + b"\x00\x63" + write_var_bytes(bytes(513)) + bytes(2),
     "length 513 exceeds the limit of 512"),
    ("filterload", write_var_bytes(bytes(36_001)) + bytes(9), "exceeds the limit of 36000"),
    ("filterload", write_var_bytes(bytes(10)) + b"\x33\0\0\0" + bytes(5),
     "51 hash functions exceed"),
    ("filteradd", write_var_bytes(bytes(521)), "exceeds the limit of 520"),
    ("reject", write_var_bytes(b"tx") + b"\x10" + write_var_bytes(b"bad") + bytes(5),
     "empty or 32 bytes"),
    ("reject", write_var_bytes(b"thirteen-char") + b"\x10" + b"\x00", "exceeds the limit of 12"),
    ("merkleblock", HEADER.serialize() + bytes(4) + b"\x02" + bytes(32), "needs at least 64"),
    ("merkleblock", HEADER.serialize() + bytes(4) + b"\x00" + b"\x05\x00", "needs 5 bytes"),
    ("tx", b"", "non-empty"),
    ("protoconf", b"\x01\x00\x00", "needs 4 bytes"),
    ("version", bytes(80), "user agent"),
    ("version", bytes(80) + write_var_bytes(b"a" * 257) + bytes(4), "exceeds the limit of 256"),
]


@pytest.mark.parametrize(("command", "payload", "fragment"), MALFORMED)
def test_malformed_payloads(command: str, payload: bytes, fragment: str) -> None:
    with pytest.raises(RemoteProtocolError, match=f"malformed {command} message") as info:
        decode_message(command, payload)
    assert fragment in str(info.value)


INVALID_VALUES = [
    lambda: Ping(-1),
    lambda: Ping(2**64),
    lambda: FeeFilter(2**63),
    lambda: SendCmpct(1, 1),  # type: ignore[arg-type]
    lambda: InvVector(1, bytes(31)),
    lambda: InvVector(2**32, ZERO),
    lambda: Inv(tuple(InvVector(1, ZERO) for _ in range(50_001))),
    lambda: GetData((ZERO,)),  # type: ignore[arg-type]
    lambda: Headers((HEADER,) * 2001),
    lambda: GetHeaders((ZERO,) * 102),
    lambda: GetHeaders((ZERO,), hash_stop=b"short"),
    lambda: Addr((AddrEntry(0, NetAddress(0, bytes(16), 0)),) * 1001),
    lambda: NetAddress(0, bytes(4), 8333),
    lambda: NetAddress(0, bytes(16), 65536),
    lambda: NetAddress.from_host("example.org", 8333),
    lambda: AddrV2Entry(0, 0, AddrV2Network.TORV3, bytes(16), 0),
    lambda: FilterLoad(bytes(36_001), 1, 0),
    lambda: FilterLoad(b"", 51, 0),
    lambda: FilterAdd(bytes(521)),
    lambda: Reject("tx", 256, "x"),
    lambda: Reject("tx", 16, "x" * 112),
    lambda: Protoconf(1, None),
    lambda: Protoconf(0, 2_097_152),
    lambda: Tx(b""),
    lambda: Unknown("way-too-long-command", b""),
    lambda: Version(70016, 0, 0, NetAddress(0, bytes(16), 0), NetAddress(0, bytes(16), 0),
                    0, "a" * 257, 0),
    lambda: Version(70016, 0, 0, NetAddress(0, bytes(16), 0), NetAddress(0, bytes(16), 0),
                    0, "", 0, relay=None, extra=b"\x00"),
]


@pytest.mark.parametrize("build", INVALID_VALUES)
def test_invalid_values_are_local_protocol_errors(build: object) -> None:
    assert callable(build)
    with pytest.raises(LocalProtocolError):
        build()


def _version_payload(relay: bytes, extra: bytes = b"") -> bytes:
    msg = Version(70016, 1, 1_700_000_000, NetAddress(0, bytes(16), 0),
                  NetAddress(0, bytes(16), 0), 7, "/x/", 100, relay=None)
    return msg.encode() + relay + extra


@pytest.mark.parametrize(("relay", "extra", "expected_relay"), [
    (b"", b"", None),          # old peers leave the flag out
    (b"\x00", b"", False),
    (b"\x01", b"", True),
    (b"\x02", b"", True),      # any non-zero byte reads as true
    (b"\x01", b"\x00", True),  # one extra byte, as Bitcoin SV sends
    (b"\x00", b"\x03abc", False),
])
def test_version_leniency(relay: bytes, extra: bytes, expected_relay: bool | None) -> None:
    msg = decode_message("version", _version_payload(relay, extra))
    assert isinstance(msg, Version)
    assert msg.relay is expected_relay
    assert msg.extra == extra
    assert msg.relays_transactions is (expected_relay is not False)


def test_version_fields_through_start_height_are_required() -> None:
    payload = _version_payload(b"")
    for cut in (len(payload) - 1, 85, 46, 0):
        with pytest.raises(RemoteProtocolError, match="malformed version"):
            decode_message("version", payload[:cut])


def test_protoconf_leniency() -> None:
    assert decode_message("protoconf", b"\x00") == Protoconf(0, None)
    msg = decode_message("protoconf", b"\x03" + (1 << 20).to_bytes(4, "little") + b"\x01x?")
    assert msg == Protoconf(3, 1 << 20, b"\x01x?")
    assert isinstance(msg, Protoconf)
    assert msg.stream_policies == "x"
    assert Protoconf(2, 5, b"\xfd").stream_policies is None


def test_inventory_types() -> None:
    assert int(InvType.WITNESS_BLOCK) == 0x40000002
    assert int(InvType.FILTERED_WITNESS_BLOCK) == 0x40000003
    assert InvVector(3, ZERO).known_type is InvType.FILTERED_BLOCK
    assert InvVector(99, ZERO).known_type is None  # unknown types decode, receivers skip
    assert decode_message("inv", _inv_payload(1)) == Inv((InvVector(InvType.BLOCK, ZERO),))
    empty_inv: object = Inv(())
    assert empty_inv != GetData(())  # same items, different message


def test_net_address_hosts() -> None:
    v4 = NetAddress.from_host("127.0.0.1", 18444, services=1)
    assert v4.ip == bytes(10) + b"\xff\xff\x7f\x00\x00\x01"
    assert v4.host == "127.0.0.1"
    assert v4.encode()[-2:] == b"\x48\x0c"  # port is big-endian
    assert NetAddress.from_host("2001:db8::1", 8333).host == "2001:db8::1"


def test_addrv2_unknown_network_is_kept() -> None:
    entry = AddrV2Entry(1, 1, 200, b"\x01\x02\x03", 9)
    assert entry.known_network is None
    assert AddrV2Entry(1, 1, 1, bytes(4), 9).known_network is AddrV2Network.IPV4
    assert decode_message("addrv2", AddrV2((entry,)).encode()) == AddrV2((entry,))


def test_headers_known_encoding() -> None:
    payload = Headers((HEADER,)).encode()
    assert payload == b"\x01" + HEADER.serialize() + b"\x00"
    assert Headers(()).encode() == b"\x00"  # an empty answer: the peer is at its tip


def test_getheaders_known_encoding() -> None:
    msg = GetHeaders((b"\x11" * 32, b"\x22" * 32), version=70016)
    assert msg.encode().hex() == ("80110100" "02" + "11" * 32 + "22" * 32 + "00" * 32)


@st.composite
def _mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid payload with bytes flipped, inserted or removed."""
    msg = draw(any_message)
    payload = bytearray(msg.encode())
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete"]))
        at = draw(st.integers(0, len(payload)))
        if op == "insert":
            payload[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif payload and at < len(payload):
            if op == "flip":
                payload[at] ^= draw(st.integers(1, 255))
            else:
                del payload[at]
    return message_command(msg), bytes(payload)


@settings(max_examples=1000)
@given(_mutated())
def test_fuzz_mutated_payloads(case: tuple[str, bytes]) -> None:
    """Mutations of valid payloads: a message that re-encodes, or RemoteProtocolError."""
    command, payload = case
    try:
        msg = decode_message(command, payload)
    except RemoteProtocolError:
        return
    assert message_command(msg) == command
    assert decode_message(command, msg.encode()) == msg
