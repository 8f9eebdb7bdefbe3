"""The state driver over a fake header chain and a simulated peer.

Blocks are real serialized blocks (transactions with outputs to watched scripts and
spends of them, merkle roots computed), fetched through the real ``BlockFeed`` and
``BlockFetcher``: the test plays the peer, answering ``getdata`` in the order it
chooses. Every scenario ends by comparing the driver's accounts with a from-scratch
scan of the final best chain (``expected``).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from structlog.testing import capture_logs

from aureond.chain.header import BlockHeader
from aureond.chain.merkle import merkle_root
from aureond.chain.tree import Node, TipChanged
from aureond.chain.tx import compact_size, parse_block
from aureond.clock import FakeClock, SeededRandom
from aureond.p2p.actions import Action, Send
from aureond.p2p.events import PeerId
from aureond.service.block_feed import BlockFeed
from aureond.service.state_driver import StateDriver
from aureond.service.state_metrics import StateMetrics
from aureond.state.blockfetch import BlockFetcher
from aureond.state.errors import StateError
from aureond.state.store import StateStore
from aureond.store.peers import PeerAddress
from aureond.wire import GetData, Unknown

PEER = PeerId(1, PeerAddress("192.0.2.1", 8333))
NETWORK = "sv-regtest"
ALICE = bytes.fromhex("76a914" + "11" * 20 + "88ac")
BOB = bytes.fromhex("76a914" + "22" * 20 + "88ac")
NOBODY = bytes.fromhex("76a914" + "33" * 20 + "88ac")
GENESIS_PREV = bytes(32)

# --- a tiny block builder ----------------------------------------------------------------


@dataclass(frozen=True)
class Pay:
    script: bytes
    value: int


@dataclass(frozen=True)
class Spend:
    txid: bytes
    vout: int


def _tx(inputs: Sequence[tuple[bytes, int]], outputs: Sequence[tuple[int, bytes]],
        tag: bytes = b"") -> bytes:
    out = struct.pack("<i", 1) + compact_size(len(inputs))
    for txid, vout in inputs:
        out += txid + struct.pack("<I", vout) + compact_size(len(tag)) + tag + b"\xff" * 4
    out += compact_size(len(outputs))
    for value, script in outputs:
        out += struct.pack("<q", value) + compact_size(len(script)) + script
    return out + b"\x00" * 4


@dataclass
class Chain:
    """A best chain of real blocks; ``header_at`` is what the driver trusts."""

    headers: list[BlockHeader] = field(default_factory=list)
    raw: dict[bytes, bytes] = field(default_factory=dict)

    @property
    def tip_height(self) -> int:
        return len(self.headers) - 1

    def header_at(self, height: int) -> BlockHeader | None:
        return self.headers[height] if 0 <= height < len(self.headers) else None

    def mine(self, *txs: Pay | Spend, salt: int = 0) -> BlockHeader:
        """One block on the tip: a coinbase (to nobody), then one tx per item."""
        height = len(self.headers)
        raws = [_tx([(bytes(32), 0xFFFFFFFF)], [(50, NOBODY)],
                    struct.pack("<IB", height, salt))]
        for item in txs:
            if isinstance(item, Pay):
                raws.append(_tx([(bytes([salt, height % 256]) * 16, 0)],
                                [(item.value, item.script), (1, NOBODY)]))
            else:
                raws.append(_tx([(item.txid, item.vout)], [(item.txid[0] + 1000, NOBODY)]))
        body = compact_size(len(raws)) + b"".join(raws)
        prev = self.headers[-1].hash if self.headers else GENESIS_PREV
        txids = [t.txid for t in parse_block(bytes(80) + body).transactions]
        header = BlockHeader(1, prev, merkle_root(txids), 1_700_000_000 + height, 0x207FFFFF,
                             salt)
        self.headers.append(header)
        self.raw[header.hash] = header.serialize() + body
        return header

    def txid(self, height: int, pos: int) -> bytes:
        header = self.headers[height]
        return parse_block(self.raw[header.hash]).transactions[pos].txid

    def reorg(self, fork: int) -> list[BlockHeader]:
        """Cut the chain back to ``fork``; returns the reverted headers."""
        reverted = self.headers[fork + 1:]
        del self.headers[fork + 1:]
        return reverted


def tip_changed(chain: Chain, reverted: Sequence[BlockHeader], fork: int) -> TipChanged:
    def node(h: BlockHeader, height: int) -> Node:
        return Node(h.serialize(), h.hash, height, height)

    connected = tuple(node(h, fork + 1 + i) for i, h in enumerate(chain.headers[fork + 1:]))
    return TipChanged(tuple(node(h, fork + len(reverted) - i)
                            for i, h in enumerate(reversed(reverted))),
                      connected, connected[-1])


def expected(chain: Chain, script: bytes, birthday: int) -> set[tuple[bytes, int, int]]:
    """(txid, value, height) of the unspent outputs to ``script`` created at or after
    ``birthday`` on the best chain: an independent scan."""
    coins: dict[tuple[bytes, int], tuple[int, int]] = {}
    for height, header in enumerate(chain.headers):
        for tx in parse_block(chain.raw[header.hash]).transactions:
            for txin in tx.inputs:
                coins.pop((txin.prevout.txid, txin.prevout.vout), None)
            for vout, out in enumerate(tx.outputs):
                if out.script_pubkey == script and height >= birthday:
                    coins[(tx.txid, vout)] = (out.value, height)
    return {(k[0], v[0], v[1]) for k, v in coins.items()}


# --- the harness -------------------------------------------------------------------------


class Harness:
    """A driver with its task running; the test plays the one peer."""

    def __init__(self, tmp: Path, chain: Chain, *, snapshot_every: int = 1000,
                 max_undo: int = 288, registry: CollectorRegistry | None = None) -> None:
        self.tmp = tmp
        self.chain = chain
        self.clock = FakeClock()
        self.registry = registry or CollectorRegistry()
        self.feed = BlockFeed(BlockFetcher())
        self.driver = StateDriver(network=NETWORK, chain=chain,
                                  store=StateStore(tmp / "state", NETWORK),
                                  feed=self.feed, clock=self.clock, rng=SeededRandom(7),
                                  metrics=StateMetrics(self.registry),
                                  snapshot_every=snapshot_every, max_undo=max_undo)
        self.task: asyncio.Task[None] | None = None
        self.reverse = False

    async def start(self) -> Harness:
        await self.driver.open()
        self.task = asyncio.create_task(self.driver.run())
        self._answer(self.feed.peer_ready(PEER, 0.0))
        return self

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await self.task
        await self.driver.close()

    def _answer(self, actions: list[Action]) -> None:
        hashes = [i.hash for a in actions if isinstance(a, Send)
                  and isinstance(a.message, GetData) for i in a.message.items]
        if self.reverse:
            hashes.reverse()
        for h in hashes:
            self._answer(self.feed.on_message(PEER, Unknown("block", self.chain.raw[h]), 0.0))

    async def settle(self, rounds: int = 200) -> None:
        """Tick and serve blocks until the ledger and any rescan reach the tip."""
        for _ in range(rounds):
            self._answer(self.feed.tick(0.0))
            for _ in range(5):
                await asyncio.sleep(0)
                await self.driver.snapshots_written()  # written in a real thread
            progress = self.driver.progress()
            if progress.ledger_height == self.chain.tip_height and progress.rescans == 0:
                return
        failed = self.task.exception() if self.task is not None and self.task.done() else None
        raise AssertionError(f"the driver did not settle: {self.driver.progress()}") \
            from failed

    def coins(self, account_id: str) -> set[tuple[bytes, int, int]]:
        state = self.driver.account_state(account_id)
        assert state is not None
        return {(c.outpoint.txid, c.value, c.height) for c in state.coins}


@pytest.fixture
async def chain() -> Chain:
    c = Chain()
    for _ in range(11):  # heights 0 to 10
        c.mine()
    return c


@pytest.fixture
async def harness(tmp_path: Path, chain: Chain) -> AsyncIterator[Harness]:
    h = await Harness(tmp_path, chain).start()
    yield h
    await h.stop()


# --- the tests ---------------------------------------------------------------------------


async def test_payments_and_spends_follow_the_chain(harness: Harness, chain: Chain) -> None:
    alice = (await harness.driver.add_account("a", [ALICE.hex()], 11)).id
    chain.mine(Pay(ALICE, 5_000), Pay(BOB, 7))
    paid = chain.txid(11, 1)
    chain.mine(Pay(ALICE, 6_000))
    harness.driver.wake()
    await harness.settle()
    assert harness.coins(alice) == expected(chain, ALICE, 11)
    assert {v for _, v, _ in harness.coins(alice)} == {5_000, 6_000}

    chain.mine(Spend(paid, 0))
    await harness.settle()
    assert harness.coins(alice) == expected(chain, ALICE, 11)
    state = harness.driver.account_state(alice)
    assert state is not None
    assert state.balance == 6_000
    assert [m.kind for m in state.history] == ["credit", "credit", "debit"]
    for txid in state.txids:
        assert harness.driver.inclusion(txid) is not None


async def test_blocks_delivered_out_of_order_are_applied_in_height_order(
        tmp_path: Path, chain: Chain) -> None:
    for i in range(20):
        chain.mine(Pay(ALICE, 100 + i))
    paid = chain.txid(12, 1)
    chain.mine(Spend(paid, 0))
    h = await Harness(tmp_path, chain).start()
    h.reverse = True  # the peer answers every getdata batch newest first
    try:
        alice = (await h.driver.add_account("a", [ALICE.hex()], 0)).id
        await h.settle()
        assert h.coins(alice) == expected(chain, ALICE, 0)
        assert len(h.coins(alice)) == 19
    finally:
        await h.stop()


async def test_a_notified_reorg_undoes_to_the_fork_and_follows_the_new_branch(
        harness: Harness, chain: Chain) -> None:
    alice = (await harness.driver.add_account("a", [ALICE.hex()], 5)).id
    chain.mine(Pay(ALICE, 1_000))
    chain.mine(Pay(ALICE, 2_000))
    await harness.settle()
    assert len(harness.coins(alice)) == 2

    reverted = chain.reorg(10)
    chain.mine(Pay(ALICE, 3_000), salt=1)
    chain.mine(salt=1)
    chain.mine(salt=1)
    harness.driver.on_tip_changed(tip_changed(chain, reverted, 10))
    await harness.settle()
    assert harness.coins(alice) == expected(chain, ALICE, 5)
    assert {v for _, v, _ in harness.coins(alice)} == {3_000}


async def test_a_missed_reorg_notification_still_heals(harness: Harness,
                                                       chain: Chain) -> None:
    alice = (await harness.driver.add_account("a", [ALICE.hex()], 5)).id
    chain.mine(Pay(ALICE, 1_000))
    await harness.settle()
    chain.reorg(10)
    chain.mine(Pay(ALICE, 4_000), salt=2)
    chain.mine(salt=2)
    await harness.settle()  # no on_tip_changed: the tip check finds the stale block
    assert harness.coins(alice) == expected(chain, ALICE, 5)


async def test_a_reorg_deeper_than_the_undo_history_restores_a_snapshot(
        tmp_path: Path, chain: Chain) -> None:
    h = await Harness(tmp_path, chain, snapshot_every=4, max_undo=2).start()
    try:
        alice = (await h.driver.add_account("a", [ALICE.hex()], 11)).id
        for i in range(8):
            chain.mine(Pay(ALICE, 10 + i))
        await h.settle()
        anchors = [s.anchor.height for s in h.driver.snapshots()]
        assert anchors == [18, 14]
        reverted = chain.reorg(15)  # 3 blocks deep, 2 blocks of undo kept
        for _ in range(4):
            chain.mine(Pay(ALICE, 500), salt=3)
        with capture_logs() as logs:
            h.driver.on_tip_changed(tip_changed(chain, reverted, 15))
            await h.settle()
        rebuilt = [e for e in logs if e["event"] == "state.rebuilt"]
        assert [(e["from_height"], e["from_snapshot"]) for e in rebuilt] == [(14, True)]
        assert h.coins(alice) == expected(chain, ALICE, 11)
        assert sum(v for _, v, _ in h.coins(alice)) == sum(range(10, 15)) + 4 * 500
    finally:
        await h.stop()


async def test_an_account_with_history_is_rescanned_and_adopted(
        harness: Harness, chain: Chain) -> None:
    for i in range(6):
        chain.mine(Pay(ALICE, 1 + i), Pay(BOB, 100 + i))
    bob = (await harness.driver.add_account("b", [BOB.hex()], 12)).id
    await harness.settle()
    before = harness.coins(bob)
    alice = (await harness.driver.add_account("a", [ALICE.hex()], 0)).id
    assert harness.driver.progress().rescans == 1
    # A snapshot taken while the rescan runs leaves the incomplete account out.
    info = await harness.driver.take_snapshot()
    assert info.leaf_count == 1
    chain.mine(Pay(ALICE, 50))  # the ledger moves on while the rescan chases it
    await harness.settle()
    assert harness.coins(alice) == expected(chain, ALICE, 0)
    assert harness.coins(bob) == before == expected(chain, BOB, 12)
    # An account sharing a script sees only what lies at or after its own birthday.
    late = (await harness.driver.add_account("late", [ALICE.hex()], 14)).id
    await harness.settle()
    assert harness.coins(late) == expected(chain, ALICE, 14)


async def test_deleting_an_account_unwatches_only_scripts_nobody_else_watches(
        harness: Harness, chain: Chain) -> None:
    one = (await harness.driver.add_account("1", [ALICE.hex(), BOB.hex()], 11)).id
    two = (await harness.driver.add_account("2", [ALICE.hex()], 11)).id
    chain.mine(Pay(ALICE, 1), Pay(BOB, 2))
    await harness.settle()
    assert await harness.driver.delete_account(one)
    assert not await harness.driver.delete_account(one)
    assert set(harness.driver.ledger.watched) == {ALICE}
    assert harness.coins(two) == expected(chain, ALICE, 11)


async def test_restart_restores_the_newest_good_snapshot_and_replays(
        tmp_path: Path, chain: Chain) -> None:
    h = await Harness(tmp_path, chain, snapshot_every=3).start()
    alice = (await h.driver.add_account("a", [ALICE.hex()], 0)).id
    for i in range(9):
        chain.mine(Pay(ALICE, 1 + i))
    await h.settle()
    await h.stop()
    snaps = sorted((tmp_path / "state" / "snapshots").glob("*.snap"))
    snaps[-1].write_bytes(snaps[-1].read_bytes()[:-1])  # the newest is corrupt
    chain.mine(Pay(ALICE, 99))

    h = await Harness(tmp_path, chain).start()
    try:
        assert h.driver.ledger.tip is not None
        assert h.driver.ledger.tip.height == int(snaps[-2].name[:10])
        await h.settle()
        assert h.coins(alice) == expected(chain, ALICE, 0)
    finally:
        await h.stop()


async def test_refusals_and_metrics_without_user_data(harness: Harness,
                                                      chain: Chain) -> None:
    with pytest.raises(StateError, match="watch"):
        await harness.driver.add_account("x", ["not an address"], 0)
    with pytest.raises(StateError, match="birthday"):
        await harness.driver.add_account("x", [ALICE.hex()], -1)
    account = await harness.driver.add_account("secret label", [ALICE.hex()], 3)
    await harness.settle()
    text = generate_latest(harness.registry).decode()
    assert "aureond_state_height 10.0" in text
    assert "aureond_state_accounts 1.0" in text
    assert "aureond_state_rescan_remaining_blocks 0.0" in text
    assert account.id not in text
    assert "secret" not in text
    assert ALICE.hex() not in text


async def test_stopping_takes_a_last_snapshot_only_when_blocks_came_since(
        tmp_path: Path, chain: Chain) -> None:
    h = await Harness(tmp_path, chain).start()  # snapshot_every=1000: none on its own
    alice = (await h.driver.add_account("a", [ALICE.hex()], 0)).id
    for i in range(4):
        chain.mine(Pay(ALICE, 10 + i))
    await h.settle()
    snapshots = tmp_path / "state" / "snapshots"
    assert list(snapshots.glob("*.snap")) == []
    await h.stop()
    (last,) = snapshots.glob("*.snap")
    assert int(last.name[:10]) == chain.tip_height

    h = await Harness(tmp_path, chain).start()
    try:
        assert h.driver.ledger.tip is not None
        assert h.driver.ledger.tip.height == chain.tip_height  # nothing to replay
        assert h.coins(alice) == expected(chain, ALICE, 0)
    finally:
        await h.stop()
    assert list(snapshots.glob("*.snap")) == [last]  # no new block: no new snapshot
