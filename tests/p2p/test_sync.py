"""The header sync manager alone, driven directly with a fake chain."""

from __future__ import annotations

import dataclasses
from functools import cache

import pytest

from aureond.chain.header import BlockHeader
from aureond.clock import SeededRandom
from aureond.p2p.actions import (
    Action,
    Disconnect,
    HeadersRejected,
    Send,
    Stalled,
    SyncState,
    SyncStateChanged,
    TipUpdated,
)
from aureond.p2p.events import PeerId
from aureond.p2p.sync import SyncManager
from aureond.p2p.syncpeer import HEADERS_TIMEOUT, NEAR_TIP_AGE
from aureond.store.peers import PeerAddress
from aureond.wire import GetHeaders, Headers, Inv, InvType, InvVector
from tests.chain.helpers import mine_bad_pow
from tests.p2p.sim import GENESIS, PARAMS, SimChain, mine_chain

P1 = PeerId(1, PeerAddress("10.0.0.1", 18444))
P2 = PeerId(2, PeerAddress("10.0.0.2", 18444))
P3 = PeerId(3, PeerAddress("10.0.0.3", 18444))


@cache
def chain_2500() -> tuple[BlockHeader, ...]:
    return tuple(mine_chain(GENESIS, 2500, salt=1))


NOW = float(chain_2500()[-1].time + 60)


def getheaders_to(actions: list[Action]) -> list[tuple[PeerId, GetHeaders]]:
    return [(a.peer, a.message) for a in actions
            if isinstance(a, Send) and isinstance(a.message, GetHeaders)]


def states(actions: list[Action]) -> list[SyncState]:
    return [a.state for a in actions if isinstance(a, SyncStateChanged)]


def test_initial_sync_asks_one_peer_at_a_time() -> None:
    sm = SyncManager(SimChain.create(), SeededRandom(0))
    assert sm.status(NOW).state is SyncState.CONNECTING
    out = sm.add_peer(P1, 100, NOW)
    out += sm.add_peer(P2, 2500, NOW)
    out += sm.add_peer(P3, 50, NOW)
    asked = getheaders_to(out)
    assert [p for p, _ in asked] == [P1]  # first come, first served while alone
    assert asked[0][1].locator == (GENESIS.hash,)
    assert asked[0][1].hash_stop == bytes(32)
    assert states(out) == [SyncState.INITIAL_SYNC]
    assert sm.sync_peer == P1
    assert sm.best_peer_height == 2500


def test_full_batch_continues_from_its_last_header_then_short_batch_finishes() -> None:
    chain = SimChain.create()
    sm = SyncManager(chain, SeededRandom(0))
    sm.add_peer(P1, 2500, NOW)
    headers = chain_2500()
    out = sm.on_headers(P1, Headers(headers[:2000]), NOW)
    assert isinstance(out[1], TipUpdated)
    ((peer, req),) = getheaders_to(out)
    assert peer == P1
    assert req.locator[0] == headers[1999].hash
    out = sm.on_headers(P1, Headers(headers[2000:]), NOW + 1)
    assert getheaders_to(out) == []
    assert states(out) == [SyncState.SYNCED]
    status = sm.status(NOW + 1)
    assert (status.tip_height, status.best_peer_height, status.progress) == (2500, 2500, 1.0)
    assert status.sync_peer is None


def test_empty_headers_lower_an_overclaiming_peer_and_fail_over() -> None:
    chain = SimChain.create()
    sm = SyncManager(chain, SeededRandom(0))
    sm.add_peer(P1, 9999, NOW)  # claims far more than it has
    sm.add_peer(P2, 300, NOW)
    out = sm.on_headers(P1, Headers(()), NOW)
    assert sm.peer_height(P1) == 0
    assert [p for p, _ in getheaders_to(out)] == [P2]
    assert sm.sync_peer == P2


def test_sync_peer_that_times_out_is_stalled_and_replaced() -> None:
    sm = SyncManager(SimChain.create(), SeededRandom(0))
    sm.add_peer(P1, 500, NOW)
    sm.add_peer(P2, 400, NOW)
    assert sm.tick(NOW + HEADERS_TIMEOUT - 0.01) == []
    out = sm.tick(NOW + HEADERS_TIMEOUT)
    assert Stalled(P1, "getheaders") in out
    assert Disconnect(P1, "headers-timeout") in out
    assert [p for p, _ in getheaders_to(out)] == [P2]


def test_invalid_headers_ban_and_name_the_rule() -> None:
    sm = SyncManager(SimChain.create(), SeededRandom(0), ban_seconds=77)
    sm.add_peer(P1, 10, NOW)
    good = mine_chain(GENESIS, 3, salt=2)
    bad = mine_bad_pow(good[-1].hash, good[-1].time + 600, good[-1].bits)
    out = sm.on_headers(P1, Headers((*good, bad)), NOW)
    assert HeadersRejected(P1, "high-hash", 4) in out
    assert Disconnect(P1, "invalid-headers:high-hash", 77) in out
    assert sm.peer_height(P1) is None


@pytest.mark.parametrize(("known", "asks"), [(True, False), (False, True)])
def test_inv_of_a_block_asks_for_headers_only_when_unknown(known: bool, asks: bool) -> None:
    chain = SimChain.create()
    sm = SyncManager(chain, SeededRandom(0))
    sm.add_peer(P1, 0, NOW)
    sm.on_headers(P1, Headers(()), NOW)  # answers the initial request
    block = GENESIS.hash if known else b"\x99" * 32
    out = sm.on_inv(P1, Inv((InvVector(InvType.TX, b"\x01" * 32),
                             InvVector(InvType.BLOCK, block))), NOW)
    assert bool(getheaders_to(out)) is asks
    if asks:  # a second inv while the request is out asks nothing more
        assert sm.on_inv(P1, Inv((InvVector(InvType.BLOCK, b"\x98" * 32),)), NOW) == []


def test_near_the_tip_every_new_peer_is_asked() -> None:
    chain = SimChain.create()
    sm = SyncManager(chain, SeededRandom(0))
    sm.add_peer(P1, 2500, NOW)
    sm.on_headers(P1, Headers(chain_2500()[:2000]), NOW)
    sm.on_headers(P1, Headers(chain_2500()[2000:]), NOW)
    assert NOW - chain.tip_time < NEAR_TIP_AGE
    out = sm.add_peer(P2, 2500, NOW)
    assert [p for p, _ in getheaders_to(out)] == [P2]


def test_chain_below_minimum_work_drops_the_peer_without_a_ban() -> None:
    params = dataclasses.replace(PARAMS, minimum_chain_work=1 << 200)
    chain = SimChain.create(params)
    sm = SyncManager(chain, SeededRandom(0))
    sm.add_peer(P1, 100, NOW)
    out = sm.on_headers(P1, Headers(chain_2500()[:100]), NOW)
    assert Disconnect(P1, "low-work-chain") in out
    assert sm.status(NOW).state is SyncState.CONNECTING
    # The low-work headers were validated and forgotten: nothing reached the store.
    assert (chain.tip_height, chain.store.tip_height) == (0, 0)
    sm.add_peer(P2, 100, NOW)
    assert sm.status(NOW).state is SyncState.INITIAL_SYNC  # the next peer is asked
    assert sm.sync_peer == P2


def test_removing_the_sync_peer_moves_sync_on() -> None:
    sm = SyncManager(SimChain.create(), SeededRandom(0))
    sm.add_peer(P1, 500, NOW)
    sm.add_peer(P2, 400, NOW)
    out = sm.remove_peer(P1, NOW)
    assert [p for p, _ in getheaders_to(out)] == [P2]
    assert sm.remove_peer(P1, NOW) == []


def test_a_claimed_height_is_passed_on_once_headers_from_the_peer_extend_our_chain() -> None:
    chain = SimChain.create()
    sm = SyncManager(chain, SeededRandom(0))
    sm.add_peer(P1, 2_000_000_000, NOW)
    sm.add_peer(P2, 2500, NOW)
    assert chain.expected_heights == []  # a claim alone sizes nothing
    sm.on_headers(P2, Headers(tuple(mine_chain(GENESIS, 3, salt=9)[1:])), NOW)  # no link
    assert chain.expected_heights == []
    sm.on_headers(P1, Headers(chain_2500()[:2000]), NOW)
    assert chain.expected_heights == [2_000_000_000]
    side = mine_chain(chain_2500()[99], 5, salt=7)
    sm.on_headers(P2, Headers(tuple(side)), NOW)  # valid, but a side branch: no tip change
    assert chain.expected_heights == [2_000_000_000]
