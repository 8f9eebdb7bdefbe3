"""The 24-byte message header and the sans-I/O frame decoder."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aureond.errors import ConfigError, LocalProtocolError, RemoteProtocolError
from aureond.wire.framing import (
    DEFAULT_READ_SLACK,
    Frame,
    FrameDecoder,
    checksum,
    decode_command,
    encode_command,
    encode_frame,
)

MAINNET = bytes.fromhex("f9beb4d9")
SV_REGTEST = bytes.fromhex("dab5bffa")
MAX_PAYLOAD = 2_097_152

# The verack frame on mainnet: an empty payload has checksum 5df6e0e2.
MAINNET_VERACK = bytes.fromhex("f9beb4d9" "76657261636b000000000000" "00000000" "5df6e0e2")


def _header(magic: bytes, command: bytes, length: int, check: bytes) -> bytes:
    return magic + command.ljust(12, b"\x00") + struct.pack("<I", length) + check


def test_known_vectors() -> None:
    assert checksum(b"") == bytes.fromhex("5df6e0e2")
    assert encode_frame(MAINNET, "verack", b"") == MAINNET_VERACK
    ping = encode_frame(SV_REGTEST, "ping", bytes.fromhex("fa1adc6544d15694"))
    assert ping[:20] == bytes.fromhex("dab5bffa70696e67000000000000000008000000")
    assert FrameDecoder(MAINNET, MAX_PAYLOAD).feed(MAINNET_VERACK) == [Frame("verack", b"")]


@given(st.lists(st.tuples(st.sampled_from(["ping", "headers", "tx", "x", "abcdefghijkl"]),
                          st.binary(max_size=300)), max_size=8))
def test_whole_and_byte_at_a_time_agree(items: list[tuple[str, bytes]]) -> None:
    stream = b"".join(encode_frame(MAINNET, c, p) for c, p in items)
    expected = [Frame(c, p) for c, p in items]
    assert FrameDecoder(MAINNET, MAX_PAYLOAD).feed(stream) == expected
    dec = FrameDecoder(MAINNET, MAX_PAYLOAD)
    got: list[Frame] = []
    for i in range(len(stream)):
        got.extend(dec.feed(stream[i:i + 1]))
    assert got == expected
    assert dec.buffered == 0


@given(st.binary(max_size=200), st.data())
def test_arbitrary_split_points(payload: bytes, data: st.DataObject) -> None:
    stream = encode_frame(MAINNET, "tx", payload) * 3
    cut = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    dec = FrameDecoder(MAINNET, MAX_PAYLOAD)
    frames: list[Frame] = []
    for start, end in zip([0, *cut], [*cut, len(stream)], strict=True):
        frames.extend(dec.feed(stream[start:end]))
    assert frames == [Frame("tx", payload)] * 3


def test_partial_frame_waits_then_completes() -> None:
    frame = encode_frame(MAINNET, "ping", bytes(8))
    dec = FrameDecoder(MAINNET, MAX_PAYLOAD)
    dec.receive_data(frame[:-1])
    assert dec.next_frame() is None
    assert dec.buffered == len(frame) - 1
    dec.receive_data(frame[-1:])
    assert dec.next_frame() == Frame("ping", bytes(8))
    assert dec.next_frame() is None


def test_frames_before_an_error_are_delivered_by_next_frame() -> None:
    good = encode_frame(MAINNET, "ping", bytes(8))
    dec = FrameDecoder(MAINNET, MAX_PAYLOAD)
    dec.receive_data(good + b"\x0b\x11\x09\x07")
    assert dec.next_frame() == Frame("ping", bytes(8))
    with pytest.raises(RemoteProtocolError, match="wrong network magic"):
        dec.next_frame()


@pytest.mark.parametrize("prefix", [b"\xfa", b"\xf9\xbe\xb4\xda", SV_REGTEST])
def test_wrong_magic_rejected_from_first_differing_byte(prefix: bytes) -> None:
    dec = FrameDecoder(MAINNET, MAX_PAYLOAD)
    with pytest.raises(RemoteProtocolError, match="wrong network magic"):
        dec.feed(prefix)


def test_oversized_length_rejected_with_at_most_24_bytes_buffered() -> None:
    header = _header(MAINNET, b"block", MAX_PAYLOAD + 1, b"\0\0\0\0")
    dec = FrameDecoder(MAINNET, MAX_PAYLOAD)
    for byte in header[:19]:
        assert dec.feed(bytes((byte,))) == []
    with pytest.raises(RemoteProtocolError, match=r"claims a 2097153-byte payload"):
        dec.feed(header[19:20])
    assert dec.buffered <= 24
    assert dec.closed


def test_length_at_the_limit_is_accepted() -> None:
    payload = bytes(1000)
    dec = FrameDecoder(MAINNET, max_payload=1000)
    assert dec.feed(encode_frame(MAINNET, "tx", payload)) == [Frame("tx", payload)]


def test_bad_checksum_rejected() -> None:
    frame = bytearray(encode_frame(MAINNET, "ping", bytes(8)))
    frame[20] ^= 0x01
    with pytest.raises(RemoteProtocolError, match="ping: checksum mismatch"):
        FrameDecoder(MAINNET, MAX_PAYLOAD).feed(bytes(frame))


@pytest.mark.parametrize(("command", "message"), [
    (b"", "empty command"),
    (b"ver\x00ack", "after its NUL padding"),
    (b"ping\x00\x00\x00\x00\x00\x00\x00\x01", "after its NUL padding"),
    (b"pi\x7fng", "non-printable"),
    (b"p\x01ng", "non-printable"),
    (b"\x80ping", "non-printable"),
])
def test_bad_command_rejected(command: bytes, message: str) -> None:
    dec = FrameDecoder(MAINNET, MAX_PAYLOAD)
    head = _header(MAINNET, command, 0, checksum(b""))
    with pytest.raises(RemoteProtocolError, match=message):
        dec.feed(head[:16])  # refused as soon as the command field is complete


def test_command_codec() -> None:
    assert encode_command("verack") == b"verack\x00\x00\x00\x00\x00\x00"
    assert decode_command(b"abcdefghijkl") == "abcdefghijkl"
    for bad in ["", "thirteen-char", "caf\u00e9", "a\x00b", "a\nb"]:
        with pytest.raises(LocalProtocolError):
            encode_command(bad)


def test_buffer_limit_exceeded() -> None:
    frame = encode_frame(MAINNET, "ping", bytes(8))
    dec = FrameDecoder(MAINNET, max_payload=8, max_buffer=len(frame) * 2)
    dec.receive_data(frame)
    dec.receive_data(frame)   # two undrained frames: exactly at the limit
    with pytest.raises(RemoteProtocolError, match="over the buffer limit of 64"):
        dec.receive_data(b"\xf9")
    assert dec.closed


def test_default_buffer_admits_a_maximal_frame_plus_slack() -> None:
    payload = bytes(5000)
    frame = encode_frame(MAINNET, "tx", payload)
    dec = FrameDecoder(MAINNET, max_payload=5000)
    assert dec.feed(frame[:-1]) == []
    # the rest of this frame, another whole one and then up to the slack limit
    tail = frame[-1:] + frame
    assert dec.feed(tail) == [Frame("tx", payload)] * 2
    dec.receive_data(frame[:-1])
    dec.receive_data(frame[-1:] + bytes(DEFAULT_READ_SLACK))  # exactly at the limit
    with pytest.raises(RemoteProtocolError, match="buffer limit"):
        dec.receive_data(b"\x00")


def test_error_is_terminal() -> None:
    dec = FrameDecoder(MAINNET, MAX_PAYLOAD)
    with pytest.raises(RemoteProtocolError):
        dec.feed(b"\x00")
    for call in (lambda: dec.feed(MAINNET_VERACK), dec.next_frame,
                 lambda: dec.receive_data(b"")):
        with pytest.raises(RemoteProtocolError, match="closed after an earlier protocol error"):
            call()


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"magic": b"\xf9\xbe\xb4", "max_payload": 10}, "magic"),
    ({"magic": MAINNET, "max_payload": -1}, "max_payload"),
    ({"magic": MAINNET, "max_payload": 100, "max_buffer": 123}, "max_buffer"),
])
def test_decoder_configuration_checked(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        FrameDecoder(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_encode_frame_limits() -> None:
    with pytest.raises(LocalProtocolError, match="magic"):
        encode_frame(b"\xf9", "ping", b"")
    with pytest.raises(LocalProtocolError, match="exceeds the limit of 4"):
        encode_frame(MAINNET, "tx", b"12345", max_payload=4)


@st.composite
def _streams(draw: st.DrawFn) -> bytes:
    """Random bytes, bytes behind the right magic, or valid frames with bytes changed."""
    kind = draw(st.sampled_from(["random", "magic", "mutated"]))
    if kind == "random":
        return draw(st.binary(max_size=400))
    if kind == "magic":
        return MAINNET + draw(st.binary(max_size=400))
    frames = draw(st.lists(st.tuples(st.sampled_from(["ping", "tx", "inv"]),
                                     st.binary(max_size=80)), min_size=1, max_size=4))
    stream = bytearray(b"".join(encode_frame(MAINNET, c, p) for c, p in frames))
    for at in draw(st.lists(st.integers(0, len(stream) - 1), max_size=3)):
        stream[at] ^= draw(st.integers(1, 255))
    return bytes(stream)


@settings(max_examples=1000)
@given(_streams(), st.integers(1, 64))
def test_fuzz_frames_or_remote_protocol_error(data: bytes, chunk: int) -> None:
    """For arbitrary bytes: frames, or RemoteProtocolError, never another exception."""
    dec = FrameDecoder(MAINNET, max_payload=256)
    try:
        for i in range(0, len(data), chunk):
            for frame in dec.feed(data[i:i + chunk]):
                assert isinstance(frame, Frame)
    except RemoteProtocolError:
        assert dec.closed


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=40), max_size=4), st.binary(max_size=60))
def test_fuzz_valid_prefix_then_garbage(payloads: list[bytes], garbage: bytes) -> None:
    stream = b"".join(encode_frame(MAINNET, "tx", p) for p in payloads) + garbage
    dec = FrameDecoder(MAINNET, max_payload=64)
    dec.receive_data(stream)
    got: list[Frame] = []
    try:
        while (frame := dec.next_frame()) is not None:
            got.append(frame)
    except RemoteProtocolError:
        pass
    assert got[:len(payloads)] == [Frame("tx", p) for p in payloads]
