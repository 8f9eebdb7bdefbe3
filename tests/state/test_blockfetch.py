"""The block fetcher: bounded parallel requests, verification against our headers, bans,
timeouts and failover; with real blocks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aureond.chain.header import BlockHeader
from aureond.p2p.actions import Action, Disconnect, PeerMisbehaved, Send
from aureond.p2p.events import MessageReceived, PeerId
from aureond.state.blockfetch import MAX_STALLS, BlockFetcher
from aureond.store.peers import PeerAddress
from aureond.wire import GetData, InvType, InvVector, NotFound, Unknown, Verack, Version
from tests.p2p.sim import SimChain, make_node
from tests.p2p.test_node import A, connected

P1 = PeerId(1, PeerAddress("192.0.2.1", 8333))
P2 = PeerId(2, PeerAddress("192.0.2.2", 8333))
NAMES = ("mainnet_0000000000013b8a_9tx", "mainnet_277647", "mainnet_300025")


@pytest.fixture(scope="module")
def blocks(data_dir: Path) -> list[tuple[int, BlockHeader, bytes]]:
    out = []
    for i, name in enumerate(NAMES):
        doc = json.loads((data_dir / "blocks" / f"{name}.json").read_text())
        raw = (data_dir / "blocks" / f"{name}.bin").read_bytes()
        out.append((100 + i, BlockHeader.from_hex(doc["header_hex"]), raw))
    return out


def requested(actions: list[Action]) -> dict[PeerId, list[bytes]]:
    out: dict[PeerId, list[bytes]] = {}
    for a in actions:
        if isinstance(a, Send) and isinstance(a.message, GetData):
            assert all(i.type == InvType.BLOCK for i in a.message.items)
            out.setdefault(a.peer, []).extend(i.hash for i in a.message.items)
    return out


def block_msg(raw: bytes) -> Unknown:
    return Unknown("block", raw)


def test_requests_spread_and_blocks_verify(blocks: list[tuple[int, BlockHeader, bytes]]) -> None:
    f = BlockFetcher()
    f.peer_ready(P1, 0.0)
    f.peer_ready(P2, 0.0)
    sent = requested(f.want([(h, hdr) for h, hdr, _ in blocks], 0.0))
    assert sorted(len(v) for v in sent.values()) == [1, 2]
    by_hash = {hdr.hash: raw for _, hdr, raw in blocks}
    for peer, hashes in sent.items():
        for hh in hashes:
            assert f.on_message(peer, block_msg(by_hash[hh]), 1.0) == []
    ready = f.pop_ready()
    assert [r.height for r in ready] == [100, 101, 102]
    assert f.pending == 0
    assert f.in_flight == 0


def test_in_flight_is_bounded(blocks: list[tuple[int, BlockHeader, bytes]]) -> None:
    f = BlockFetcher(max_in_flight=1, max_buffered=2)
    f.peer_ready(P1, 0.0)
    sent = requested(f.want([(h, hdr) for h, hdr, _ in blocks], 0.0))
    assert sum(len(v) for v in sent.values()) == 1
    f.peer_ready(P2, 0.0)
    assert f.in_flight == 2
    hh = next(iter(sent[P1]))
    raw = next(r for _, hdr, r in blocks if hdr.hash == hh)
    assert requested(f.on_message(P1, block_msg(raw), 1.0)) == {}, \
        "the ready block counts toward the buffer bound"
    f.pop_ready()
    assert f.tick(1.0) != []


def test_a_block_that_does_not_match_our_header_bans_and_fails_over(
        blocks: list[tuple[int, BlockHeader, bytes]]) -> None:
    height, header, raw = blocks[0]
    f = BlockFetcher(ban_seconds=600)
    f.peer_ready(P1, 0.0)
    f.peer_ready(P2, 0.0)
    first = requested(f.want([(height, header)], 0.0))
    peer = next(iter(first))
    other = P2 if peer == P1 else P1
    tampered = raw[:-4] + bytes([raw[-4] ^ 1]) + raw[-3:]   # last tx's locktime: new txid
    actions = f.on_message(peer, block_msg(tampered), 1.0)
    assert PeerMisbehaved(peer, "bad-block", 100) in actions
    assert Disconnect(peer, "bad-block", 600) in actions
    assert requested(actions) == {other: [header.hash]}
    assert f.on_message(other, block_msg(raw), 2.0) == []
    assert [r.height for r in f.pop_ready()] == [height]
    assert f.bad_blocks == 1


def test_garbage_payload_is_punished(blocks: list[tuple[int, BlockHeader, bytes]]) -> None:
    f = BlockFetcher()
    f.peer_ready(P1, 0.0)
    f.want([(blocks[0][0], blocks[0][1])], 0.0)
    actions = f.on_message(P1, block_msg(b"\x00" * 100), 1.0)
    assert any(isinstance(a, Disconnect) and a.ban_seconds for a in actions)


def test_unsolicited_block_is_ignored(blocks: list[tuple[int, BlockHeader, bytes]]) -> None:
    f = BlockFetcher()
    f.peer_ready(P1, 0.0)
    assert f.on_message(P1, block_msg(blocks[1][2]), 1.0) == []
    assert f.pop_ready() == []


def test_timeout_and_notfound_move_the_request(
        blocks: list[tuple[int, BlockHeader, bytes]]) -> None:
    height, header, _ = blocks[0]
    f = BlockFetcher(timeout=60.0)
    f.peer_ready(P1, 0.0)
    f.peer_ready(P2, 0.0)
    first = next(iter(requested(f.want([(height, header)], 0.0))))
    assert f.tick(59.0) == []
    moved = requested(f.tick(60.0))
    second = next(iter(moved))
    assert second != first
    back = requested(f.on_message(second, NotFound((InvVector(InvType.BLOCK, header.hash),)),
                                  61.0))
    assert list(back) == [first]


def test_a_peer_that_keeps_stalling_is_dropped(
        blocks: list[tuple[int, BlockHeader, bytes]]) -> None:
    f = BlockFetcher(timeout=10.0)
    f.peer_ready(P1, 0.0)
    f.want([(blocks[0][0], blocks[0][1])], 0.0)
    now = 0.0
    drops = []
    for _ in range(MAX_STALLS):
        now += 10.0
        drops += [a for a in f.tick(now) if isinstance(a, Disconnect)]
    assert drops == [Disconnect(P1, "block-stalled")]


def test_reorg_cancels_and_a_lost_peer_hands_over(
        blocks: list[tuple[int, BlockHeader, bytes]]) -> None:
    f = BlockFetcher()
    f.peer_ready(P1, 0.0)
    f.want([(h, hdr) for h, hdr, _ in blocks], 0.0)
    f.cancel_above(100)
    assert f.pending == 1
    f.peer_ready(P2, 1.0)
    assert requested(f.peer_gone(P1, 2.0)) == {P2: [blocks[0][1].hash]}


def test_the_p2p_core_routes_blocks_to_the_hook(
        blocks: list[tuple[int, BlockHeader, bytes]]) -> None:
    node = make_node(SimChain.create(), [A], target_outbound=1)
    fetcher = BlockFetcher(ban_seconds=60)
    node.blocks = fetcher
    peer, ours = connected(node)
    node.handle(MessageReceived(peer, Version(70016, 1, 0, ours.receiver, ours.sender, 9,
                                              "/x/", 0), 0.6))
    node.handle(MessageReceived(peer, Verack(), 0.7))
    height, header, raw = blocks[1]
    assert requested(fetcher.want([(height, header)], 1.0)) == {peer: [header.hash]}
    node.handle(MessageReceived(peer, Unknown("block", raw), 2.0))
    assert [r.height for r in fetcher.pop_ready()] == [height]

    fetcher.want([(blocks[2][0], blocks[2][1])], 3.0)
    bad = blocks[2][2][:-1] + bytes([blocks[2][2][-1] ^ 1])
    out = node.handle(MessageReceived(peer, Unknown("block", bad), 4.0))
    assert Disconnect(peer, "bad-block", 60) in out
    assert node.manager.state_of(peer) is None


def test_a_busy_peer_is_topped_up_in_batches(
        blocks: list[tuple[int, BlockHeader, bytes]]) -> None:
    """With blocks in flight, a peer gets more only once half its slots are free, so
    each getdata carries several blocks instead of one per delivered block."""
    extra = [(103 + i, BlockHeader(1, bytes([i + 1]) * 32, bytes(32), 0, 0x207FFFFF, i))
             for i in range(5)]
    f = BlockFetcher(max_in_flight=4, max_buffered=64)
    f.peer_ready(P1, 0.0)
    first = requested(f.want([(h, hdr) for h, hdr, _ in blocks] + extra, 0.0))
    assert len(first[P1]) == 4
    raw = {hdr.hash: r for _, hdr, r in blocks}
    assert requested(f.on_message(P1, block_msg(raw[blocks[0][1].hash]), 1.0)) == {}
    refill = requested(f.on_message(P1, block_msg(raw[blocks[1][1].hash]), 1.0))
    assert [len(v) for v in refill.values()] == [2]
    assert f.in_flight == 4
