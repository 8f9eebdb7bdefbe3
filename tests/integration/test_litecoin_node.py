"""Litecoin Core as the second real node: what the harness and the codecs rely on.

It binds loopback only and serves BIP37 and BIP157 filters; mining goes through MWEB
activation at height 432 (the harness pegs in on the way); from there every block
ends with the HogEx transaction, and a block asked for with plain ``MSG_BLOCK`` or
``MSG_WITNESS_BLOCK`` comes without MWEB data: aureond's block parser reads it whole,
its txids are the node's, and their merkle root is the header's. Its headers meet
their target in scrypt, as aureond's validator checks.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from aureond.chain.batch import validate_batch
from aureond.chain.context import genesis_context
from aureond.chain.hashing import hash_from_display, hash_to_display
from aureond.chain.header import HEADER_SIZE
from aureond.chain.merkle import merkle_root
from aureond.chain.params import LITECOIN_REGTEST, NetworkParams
from aureond.chain.tx import parse_block
from aureond.devnet import LITECOIN, RegtestNode, listening_addresses
from aureond.wire import (
    GetData,
    InvType,
    InvVector,
    Unknown,
)
from tests.integration.rawpeer import RawPeer

pytestmark = pytest.mark.node_kinds("litecoin")

MWEB = LITECOIN.mweb_height or 0
PAST_MWEB = MWEB + 6
NODE_COMPACT_FILTERS = 1 << 6
NODE_MWEB = 1 << 24
TIMEOUT = 30.0


class _Peer(RawPeer):
    """A raw connection after its handshake; ``block`` asks for one block."""

    def __init__(self, address: tuple[str, int], params: NetworkParams) -> None:
        super().__init__(*address, params, timeout=TIMEOUT)
        self.handshake()

    def block(self, block_hash: str, inv_type: int) -> bytes:
        self.send(GetData((InvVector(inv_type, hash_from_display(block_hash)),)))
        while True:
            message = self.receive()
            if isinstance(message, Unknown) and message.command == "block":
                return message.payload


@pytest.fixture(scope="module")
def mined(shared_regtest_node: RegtestNode) -> RegtestNode:
    """The module's node, mined past MWEB activation."""
    node = shared_regtest_node
    if node.rpc.getblockcount() < PAST_MWEB:
        node.generate(PAST_MWEB - node.rpc.getblockcount())
    return node


@pytest.fixture
def peer(mined: RegtestNode) -> Iterator[_Peer]:
    p = _Peer(mined.p2p_addr, LITECOIN_REGTEST)
    try:
        yield p
    finally:
        p.close()


def test_listens_on_loopback_only_and_serves_filters(mined: RegtestNode) -> None:
    assert mined.pid is not None
    # Its Tor listener would sit on 19444 (the default P2P port) unless moved: the
    # harness gives it a free port of its own.
    assert mined.onion_addr is not None
    assert mined.onion_addr[1] != 19444
    assert set(listening_addresses(mined.pid)) == {mined.p2p_addr, mined.rpc_addr,
                                                   mined.onion_addr}
    info = mined.rpc.getnetworkinfo()
    assert info["protocolversion"] == 70016
    services = int(info["localservices"], 16)
    assert services & NODE_COMPACT_FILTERS
    assert services & NODE_MWEB
    tip = mined.rpc.getbestblockhash()
    assert mined.rpc.call("getblockfilter", tip)["filter"]


def test_mining_went_through_mweb_activation(mined: RegtestNode) -> None:
    assert mined.rpc.getblockcount() >= PAST_MWEB
    before = mined.rpc.getblock(mined.rpc.getblockhash(MWEB - 1))
    after = mined.rpc.getblock(mined.rpc.getblockhash(MWEB))
    assert "mweb" not in before
    assert "mweb" in after  # the extension block exists from 432 on
    assert after["nTx"] >= 3  # coinbase, the peg-in, HogEx


@pytest.mark.parametrize("inv_type", [InvType.BLOCK, InvType.WITNESS_BLOCK])
@pytest.mark.parametrize("height", [MWEB - 1, MWEB, MWEB + 1])
def test_blocks_over_p2p_parse_whole_without_mweb_data(mined: RegtestNode, peer: _Peer,
                                                        inv_type: int, height: int) -> None:
    block_hash = mined.rpc.getblockhash(height)
    raw = peer.block(block_hash, inv_type)
    block = parse_block(raw)  # every byte read: no MWEB data after the transactions
    assert block.header.hash_hex == block_hash
    txids = [hash_to_display(t) for t in block.txids]
    assert txids == mined.rpc.getblock(block_hash)["tx"]
    assert merkle_root(block.txids) == block.header.merkle_root
    if height >= MWEB:
        # The HogEx transaction is last: it spends the previous one's output (or, at
        # activation, the peg-in) and pays the new one.
        hogex = block.transactions[-1]
        assert not hogex.is_coinbase
        assert len(hogex.outputs) >= 1
    # MWEB data comes only when asked for with the MWEB flag: the canonical block is
    # larger than what the plain request returned.
    assert len(bytes.fromhex(mined.rpc.getblock(block_hash, 0))) >= len(raw)


def test_headers_validate_in_scrypt(mined: RegtestNode) -> None:
    raw = b"".join(bytes.fromhex(mined.rpc.getblockheader(mined.rpc.getblockhash(h), False))
                   for h in range(1, PAST_MWEB + 1))
    assert len(raw) == PAST_MWEB * HEADER_SIZE
    ctx = validate_batch(LITECOIN_REGTEST, genesis_context(LITECOIN_REGTEST), raw,
                         int(time.time())).context
    assert hash_to_display(ctx.hash) == mined.rpc.getblockhash(PAST_MWEB)
    assert ctx.chainwork == int(mined.rpc.getblockheader(
        mined.rpc.getblockhash(PAST_MWEB))["chainwork"], 16)
