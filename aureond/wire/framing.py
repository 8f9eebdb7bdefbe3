"""Message framing: the 24-byte header and a sans-I/O frame decoder.

A frame on the wire is ``magic(4) | command(12) | length u32 LE | checksum(4) |
payload``, where the command is printable ASCII padded with NUL bytes and the checksum
is the first four bytes of the payload's double SHA-256.

:class:`FrameDecoder` owns no socket. The caller hands it bytes as they arrive
(``receive_data``) and pulls complete frames (``next_frame``), or does both at once
with ``feed``. Parsing is commit/rollback over one buffer: a frame is consumed only
when all of it is there, otherwise nothing moves and the decoder waits. The header is
checked as soon as its bytes arrive, so a wrong magic or an oversized length claim is
refused after at most 24 bytes, before any payload is buffered. Any protocol error
leaves the decoder closed: every later call raises the same error again.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import NoReturn

from aureond.chain.hashing import dsha256
from aureond.errors import ConfigError, LocalProtocolError, RemoteProtocolError
from aureond.wire.constants import COMMAND_SIZE, FRAME_HEADER_SIZE

__all__ = [
    "DEFAULT_READ_SLACK",
    "Frame",
    "FrameDecoder",
    "checksum",
    "decode_command",
    "encode_command",
    "encode_frame",
]

#: Headroom above one maximal frame that the default ``max_buffer`` allows for the
#: bytes of following frames arriving in the same read.
DEFAULT_READ_SLACK = 256 * 1024

_MAX_U32 = 0xFFFF_FFFF
_LENGTH = struct.Struct("<I")
_MAGIC_SIZE = 4
_LENGTH_END = _MAGIC_SIZE + COMMAND_SIZE + 4


@dataclass(frozen=True, slots=True)
class Frame:
    """One complete, checksum-verified message: its command and raw payload."""

    command: str
    payload: bytes


def checksum(payload: bytes | memoryview) -> bytes:
    """The frame checksum: the first four bytes of dSHA256(payload)."""
    return dsha256(payload)[:4]


def _check_magic(magic: bytes) -> None:
    if not isinstance(magic, bytes) or len(magic) != _MAGIC_SIZE:
        raise LocalProtocolError(f"network magic must be 4 bytes, got {magic!r}")


def encode_command(command: str) -> bytes:
    """The 12-byte NUL-padded command field; 1-12 printable ASCII characters."""
    if not 1 <= len(command) <= COMMAND_SIZE or not all(
            " " <= ch <= "~" for ch in command):
        raise LocalProtocolError(
            f"command must be 1-{COMMAND_SIZE} printable ASCII characters, got {command!r}")
    return command.encode("ascii").ljust(COMMAND_SIZE, b"\x00")


def decode_command(raw: bytes) -> str:
    """Parse a 12-byte command field: printable ASCII, then only NUL padding."""
    if len(raw) != COMMAND_SIZE:
        raise RemoteProtocolError(f"command field must be {COMMAND_SIZE} bytes")
    text = raw.rstrip(b"\x00")
    if not text:
        raise RemoteProtocolError("empty command in message header")
    if not all(0x20 <= byte <= 0x7E for byte in text):
        raise RemoteProtocolError(
            f"command {raw.hex()} has a non-printable byte or a byte after its NUL padding")
    return text.decode("ascii")


def encode_frame(magic: bytes, command: str, payload: bytes, *,
                 max_payload: int | None = None) -> bytes:
    """A complete frame: header plus payload."""
    _check_magic(magic)
    limit = _MAX_U32 if max_payload is None else min(max_payload, _MAX_U32)
    if len(payload) > limit:
        raise LocalProtocolError(
            f"{command}: payload of {len(payload)} bytes exceeds the limit of {limit}")
    return b"".join((magic, encode_command(command), _LENGTH.pack(len(payload)),
                     checksum(payload), payload))


class FrameDecoder:
    """Split a byte stream into verified frames.

    ``magic`` is the network's 4-byte magic; ``max_payload`` the largest payload
    accepted (a bigger length claim is refused from the header alone); ``max_buffer``
    the most bytes held that are not yet returned as frames. It must leave room for
    one maximal frame; the default adds ``DEFAULT_READ_SLACK`` to that. Feed chunks no
    larger than the slack, or drain frames with ``next_frame`` between chunks.
    """

    __slots__ = ("_buf", "_error", "_magic", "_max_buffer", "_max_payload", "_pending",
                 "_pos")

    def __init__(self, magic: bytes, max_payload: int, max_buffer: int | None = None) -> None:
        if not isinstance(magic, bytes) or len(magic) != _MAGIC_SIZE:
            raise ConfigError("magic", f"must be 4 bytes, got {magic!r}")
        if not 0 <= max_payload <= _MAX_U32:
            raise ConfigError("max_payload", f"must be 0..{_MAX_U32}, got {max_payload}")
        smallest = FRAME_HEADER_SIZE + max_payload
        if max_buffer is None:
            max_buffer = smallest + DEFAULT_READ_SLACK
        if max_buffer < smallest:
            raise ConfigError(
                "max_buffer", f"{max_buffer} cannot hold one frame of max_payload "
                f"{max_payload}; it must be at least {smallest}")
        self._magic = magic
        self._max_payload = max_payload
        self._max_buffer = max_buffer
        self._buf = bytearray()
        self._pos = 0
        # (command, length, checksum) of a header already read and checked
        self._pending: tuple[str, int, bytes] | None = None
        self._error: RemoteProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received and not yet returned as frames."""
        return len(self._buf) - self._pos

    @property
    def closed(self) -> bool:
        """True after a protocol error: the decoder refuses any further input."""
        return self._error is not None

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Append bytes from the peer; refuse them if too much would be buffered."""
        self._raise_if_closed()
        if self.buffered + len(data) > self._max_buffer:
            self._fail(f"peer sent {self.buffered + len(data)} bytes not yet framed, over "
                       f"the buffer limit of {self._max_buffer}")
        if self._pos and self._pos * 2 >= len(self._buf):
            del self._buf[:self._pos]
            self._pos = 0
        self._buf += data

    def next_frame(self) -> Frame | None:
        """The next complete frame, or None until more bytes arrive."""
        self._raise_if_closed()
        if self._pending is None:
            self._pending = self._read_header()
            if self._pending is None:
                return None
        command, length, expected = self._pending
        start = self._pos + FRAME_HEADER_SIZE
        end = start + length
        if end > len(self._buf):
            return None
        payload = bytes(self._buf[start:end])
        if checksum(payload) != expected:
            self._fail(f"{command}: checksum mismatch (header says {expected.hex()}, "
                       f"payload hashes to {checksum(payload).hex()})")
        self._pos = end
        self._pending = None
        if self._pos == len(self._buf):
            self._buf.clear()
            self._pos = 0
        return Frame(command, payload)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """``receive_data`` then every frame now complete, in order."""
        self.receive_data(data)
        frames: list[Frame] = []
        while (frame := self.next_frame()) is not None:
            frames.append(frame)
        return frames

    def _read_header(self) -> tuple[str, int, bytes] | None:
        """Check whatever header bytes are there; the parsed header once all 24 are."""
        avail = self.buffered
        head = bytes(self._buf[self._pos:self._pos + min(avail, FRAME_HEADER_SIZE)])
        got_magic = head[:_MAGIC_SIZE]
        if got_magic != self._magic[:len(got_magic)]:
            self._fail(f"wrong network magic {got_magic.hex()} (expected "
                       f"{self._magic.hex()}): the peer is on another network or the "
                       f"stream is out of step")
        if avail >= _MAGIC_SIZE + COMMAND_SIZE:
            try:
                command = decode_command(head[_MAGIC_SIZE:_MAGIC_SIZE + COMMAND_SIZE])
            except RemoteProtocolError as exc:
                self._fail(str(exc))
        if avail >= _LENGTH_END:
            (length,) = _LENGTH.unpack(head[_LENGTH_END - 4:_LENGTH_END])
            if length > self._max_payload:
                self._fail(f"{command}: header claims a {length}-byte payload, over the "
                           f"limit of {self._max_payload}")
        if avail < FRAME_HEADER_SIZE:
            return None
        return command, length, head[_LENGTH_END:FRAME_HEADER_SIZE]

    def _fail(self, message: str) -> NoReturn:
        self._error = RemoteProtocolError(message)
        raise self._error

    def _raise_if_closed(self) -> None:
        if self._error is not None:
            raise RemoteProtocolError(
                f"frame decoder closed after an earlier protocol error: {self._error}")
