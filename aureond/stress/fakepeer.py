"""Loopback peers that speak the real wire protocol, honest or faulty on purpose.

Each :class:`FakePeer` is an asyncio server on ``127.0.0.1`` (port chosen by the
kernel). It answers the handshake with a real ``version``/``verack``, ``ping`` with
``pong``, and ``getheaders`` from a :class:`ServedChain` it shares with its siblings
(up to 2,000 headers after the first locator hash it knows). What a faulty peer does
instead, once per connection, is its :class:`Behaviour`:

* ``BAD_POW``: announces an unknown block with ``inv``; the node's ``getheaders`` is
  answered with one header that links to the node's tip but misses the target;
* ``GARBAGE``: after the handshake, bytes that are not a frame (wrong magic);
* ``STALL``: announces with ``inv`` and never answers ``getheaders``;
* ``UNCONNECTING``: answers every ``getheaders`` with a full batch of headers whose
  parent nobody has (a sync peer that answers and never helps);
* ``REPLAY``: answers every ``getheaders`` with the first full batch of the served
  chain, which the node already has.

``claim`` makes the peer's ``version`` claim more blocks than it serves;
``version_delay`` makes it wait that many seconds before answering a ``version`` (a
slow handshake); ``bind_port`` picks the port it listens on (0: the kernel's choice).

``faults`` counts the faults actually delivered, so the scenario can check that each
one was seen and handled by the node. Servers stop with :meth:`close`; nothing here
outlives the scenario.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import hashlib

from aureond.chain.hashing import dsha256
from aureond.chain.header import HEADER_SIZE, BlockHeader
from aureond.chain.params import NetworkParams
from aureond.errors import ProtocolError
from aureond.stress.chaingen import unmined_header
from aureond.wire import (
    MAX_HEADERS_RESULTS,
    FrameDecoder,
    GetHeaders,
    Headers,
    Inv,
    InvType,
    InvVector,
    Message,
    NetAddress,
    Ping,
    Pong,
    ServiceFlags,
    Verack,
    Version,
    decode_frame,
    encode_message,
)

__all__ = ["Behaviour", "FakePeer", "ServedChain"]

PEER_PROTOCOL_VERSION = 70016
_ZERO_ADDRESS = NetAddress(0, bytes(16), 0)
_READ_CHUNK = 64 * 1024
_GARBAGE = b"\x00\xde\xad\xbe\xef" * 40


class Behaviour(enum.StrEnum):
    HONEST = "honest"
    BAD_POW = "bad-pow"
    GARBAGE = "garbage"
    STALL = "stall"
    UNCONNECTING = "unconnecting"
    REPLAY = "replay"


class ServedChain:
    """The best chain the honest peers serve: raw headers by height, heights by hash."""

    def __init__(self, genesis: BlockHeader) -> None:
        self._raw: list[bytes] = [genesis.serialize()]
        self._height: dict[bytes, int] = {genesis.hash: 0}

    @property
    def tip_height(self) -> int:
        return len(self._raw) - 1

    @property
    def tip_raw(self) -> bytes:
        return self._raw[-1]

    @property
    def tip_hash(self) -> bytes:
        return dsha256(self._raw[-1])

    def extend(self, raw: bytes) -> None:
        """Append consecutive raw headers (the caller mined them on our tip)."""
        for o in range(0, len(raw), HEADER_SIZE):
            record = raw[o:o + HEADER_SIZE]
            self._height[dsha256(record)] = len(self._raw)
            self._raw.append(record)

    def height_of(self, block_hash: bytes) -> int | None:
        return self._height.get(block_hash)

    def raw_at(self, height: int) -> bytes:
        return self._raw[height]

    def hash_at(self, height: int) -> bytes:
        return dsha256(self._raw[height])

    def after(self, locator: tuple[bytes, ...], limit: int = MAX_HEADERS_RESULTS) -> bytes:
        """Raw headers after the first locator hash we know (genesis if none)."""
        start = 0
        for h in locator:
            height = self._height.get(h)
            if height is not None:
                start = height
                break
        return b"".join(self._raw[start + 1:start + 1 + limit])


class FakePeer:
    """One loopback peer server; see the module docstring."""

    def __init__(self, params: NetworkParams, chain: ServedChain, behaviour: Behaviour,
                 *, nonce: int, clock_offset: int = 0, claim: int = 0,
                 version_delay: float = 0.0, bind_port: int = 0) -> None:
        self.params = params
        self.chain = chain
        self.behaviour = behaviour
        self.clock_offset = clock_offset
        self.claim = claim
        self.version_delay = version_delay
        self.bind_port = bind_port
        self.getheaders = 0
        self.faults = 0
        self.connections = 0
        self._nonce = nonce
        self._server: asyncio.Server | None = None
        self._port = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The port the peer listens (or listened) on; 0 before ``start``."""
        return self._port

    async def start(self) -> FakePeer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.bind_port)
        self._port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def stop_accepting(self) -> None:
        if self._server is not None:
            self._server.close()

    async def drop_connections(self) -> None:
        """Close the open connections; new ones are still accepted."""
        for writer in list(self._writers):
            writer.close()

    async def close(self) -> None:
        await self.stop_accepting()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await self._server.wait_closed()

    def announce(self, raw_headers: bytes) -> int:
        """Send ``headers`` with ``raw_headers`` to every connection; how many got it."""
        data = self._encode(Headers(raw=raw_headers))
        sent = 0
        for writer in list(self._writers):
            if not writer.is_closing():
                writer.write(data)
                sent += 1
        return sent

    # --- one connection ---------------------------------------------------------

    def _encode(self, message: Message) -> bytes:
        return encode_message(message, self.params.magic, max_payload=self.params.max_payload)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        decoder = FrameDecoder(self.params.magic, self.params.max_payload)
        try:
            while True:
                data = await reader.read(_READ_CHUNK)
                if not data:
                    break
                decoder.receive_data(data)
                while (frame := decoder.next_frame()) is not None:
                    self._on_message(decode_frame(frame), writer)
                await writer.drain()
        except (ProtocolError, ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    def _on_message(self, message: Message, writer: asyncio.StreamWriter) -> None:
        if isinstance(message, Version):
            answer = (self._encode(self._version(message.timestamp + round(self.version_delay)))
                      + self._encode(Verack()))
            if self.version_delay > 0:
                asyncio.get_running_loop().call_later(self.version_delay, _write_open,
                                                      writer, answer)
            else:
                writer.write(answer)
        elif isinstance(message, Verack):
            self._after_handshake(writer)
        elif isinstance(message, Ping):
            writer.write(self._encode(Pong(message.nonce)))
        elif isinstance(message, GetHeaders):
            self._on_getheaders(message, writer)

    def _version(self, their_time: int) -> Version:
        """Our version: the node's own timestamp sent back, so its clock agrees with
        ours (plus ``clock_offset``)."""
        their_time += self.clock_offset
        return Version(version=PEER_PROTOCOL_VERSION,
                       services=ServiceFlags.NODE_NETWORK | ServiceFlags.NODE_WITNESS,
                       timestamp=their_time, receiver=_ZERO_ADDRESS,
                       sender=_ZERO_ADDRESS,
                       nonce=self._nonce, user_agent=f"/stress-peer:{self.behaviour}/",
                       start_height=self.chain.tip_height + self.claim, relay=False)

    def _after_handshake(self, writer: asyncio.StreamWriter) -> None:
        if self.behaviour is Behaviour.GARBAGE:
            self.faults += 1
            writer.write(_GARBAGE)
        elif self.behaviour in (Behaviour.BAD_POW, Behaviour.STALL):
            unknown = hashlib.sha256(b"unknown-block%d" % self.connections).digest()
            writer.write(self._encode(Inv((InvVector(InvType.BLOCK, unknown),))))

    def _on_getheaders(self, message: GetHeaders, writer: asyncio.StreamWriter) -> None:
        self.getheaders += 1
        if self.behaviour is Behaviour.UNCONNECTING:
            self.faults += 1
            writer.write(self._encode(Headers(raw=_orphans())))
            return
        if self.behaviour is Behaviour.REPLAY:
            self.faults += 1
            writer.write(self._encode(Headers(raw=self.chain.after((self.chain.hash_at(0),)))))
            return
        if self.behaviour is Behaviour.STALL:
            self.faults += 1  # a request that will never be answered
            return
        if self.behaviour is Behaviour.BAD_POW:
            parent = self._known_parent(message.locator)
            if parent is not None:
                self.faults += 1
                writer.write(self._encode(Headers(raw=unmined_header(parent))))
                return
        writer.write(self._encode(Headers(raw=self.chain.after(message.locator))))

    def _known_parent(self, locator: tuple[bytes, ...]) -> bytes | None:
        for h in locator:
            height = self.chain.height_of(h)
            if height is not None:
                return self.chain.raw_at(height)
        return None


def _write_open(writer: asyncio.StreamWriter, data: bytes) -> None:
    if not writer.is_closing():
        writer.write(data)


@functools.cache
def _orphans() -> bytes:
    """A full batch of linked headers on a parent no chain has (proof of work is not
    needed: a node looks for the parent first)."""
    prev = hashlib.sha256(b"no such parent").digest()
    out = []
    for i in range(MAX_HEADERS_RESULTS):
        raw = (b"\x00\x00\x00\x20" + prev + hashlib.sha256(b"%d" % i).digest()
               + (1_700_000_000 + i).to_bytes(4, "little") + bytes(8))
        out.append(raw)
        prev = dsha256(raw)
    return b"".join(out)
