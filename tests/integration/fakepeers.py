"""A loopback fake peer (``aureond.stress.fakepeer``) on its own event loop in a thread,
for tests that run the daemon as a subprocess next to it."""

from __future__ import annotations

import asyncio
import threading

from aureond.chain.header import HEADER_SIZE
from aureond.chain.params import NetworkParams
from aureond.devnet import RegtestNode
from aureond.stress.fakepeer import Behaviour, FakePeer, ServedChain

__all__ = ["PeerThread", "served_from"]


class PeerThread:
    """Starts ``FakePeer`` on enter, closes it and its loop on exit."""

    def __init__(self, params: NetworkParams, behaviour: Behaviour, *,
                 chain: ServedChain | None = None, clock_offset: int = 0,
                 claim: int = 0) -> None:
        self.loop = asyncio.new_event_loop()
        self.peer = FakePeer(params, chain or ServedChain(params.genesis), behaviour,
                             nonce=7, clock_offset=clock_offset, claim=claim)
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.peer.port}"

    def __enter__(self) -> PeerThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.peer.start(), self.loop).result(10)
        return self

    def drop_connections(self) -> None:
        """Close every open connection (the peer keeps accepting new ones)."""
        asyncio.run_coroutine_threadsafe(self.peer.drop_connections(), self.loop).result(10)

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.peer.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def served_from(node: RegtestNode, params: NetworkParams, height: int) -> ServedChain:
    """The real node's headers 1..``height`` as a chain a fake peer can serve."""
    chain = ServedChain(params.genesis)
    raw = b"".join(bytes.fromhex(node.rpc.getblockheader(node.rpc.getblockhash(h), False))
                   for h in range(1, height + 1))
    assert len(raw) == height * HEADER_SIZE
    chain.extend(raw)
    return chain
