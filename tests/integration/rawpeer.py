"""A blocking P2P connection to a real node that does only what a test or benchmark
asks: the handshake, ``send``, and ``receive`` (pings are answered on the way)."""

from __future__ import annotations

import os
import socket
import time

from aureond.chain.params import NetworkParams
from aureond.wire import (
    PROTOCOL_VERSION,
    FrameDecoder,
    Message,
    NetAddress,
    Ping,
    Pong,
    Verack,
    Version,
    decode_frame,
    encode_message,
)

__all__ = ["RawPeer"]

READ_CHUNK = 256 * 1024


class RawPeer:
    """One connection to ``host:port`` speaking ``params``' network."""

    def __init__(self, host: str, port: int, params: NetworkParams, *,
                 timeout: float = 30.0, user_agent: str = "/aureond-test:0/") -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._params = params
        self._decoder = FrameDecoder(params.magic, params.max_payload)
        self._host, self._port = host, port
        self._user_agent = user_agent

    def close(self) -> None:
        self._sock.close()

    def send(self, message: Message) -> None:
        self._sock.sendall(encode_message(message, self._params.magic,
                                          max_payload=self._params.max_payload))

    def receive(self) -> Message:
        while True:
            frame = self._decoder.next_frame()
            if frame is not None:
                message = decode_frame(frame)
                if isinstance(message, Ping):
                    self.send(Pong(message.nonce))
                    continue
                return message
            data = self._sock.recv(READ_CHUNK)
            if not data:
                raise ConnectionError("the node closed the connection")
            self._decoder.receive_data(data)

    def handshake(self) -> None:
        self.send(Version(version=PROTOCOL_VERSION, services=0, timestamp=int(time.time()),
                          receiver=NetAddress.from_host(self._host, self._port),
                          sender=NetAddress(0, bytes(16), 0),
                          nonce=int.from_bytes(os.urandom(8), "little"),
                          user_agent=self._user_agent, start_height=0, relay=False))
        seen: set[type[Message]] = set()
        while not {Version, Verack} <= seen:
            message = self.receive()
            seen.add(type(message))
            if isinstance(message, Version):
                self.send(Verack())
