"""A large ``headers`` message validated a step at a time (``headers_per_step``)."""

from __future__ import annotations

import pytest

from aureond.clock import SeededRandom
from aureond.p2p.actions import (
    Action,
    Continue,
    Disconnect,
    HeadersRejected,
    RequestCompleted,
    SyncState,
    TipUpdated,
)
from aureond.p2p.sync import SyncManager
from aureond.wire import Headers
from tests.chain.helpers import mine_bad_pow
from tests.p2p.sim import SimChain
from tests.p2p.test_sync import NOW, P1, P2, chain_2500, getheaders_to, states


def _drive(sm: SyncManager, first: list[Action], now: float) -> tuple[list[Action], int]:
    """Resume while the manager asks to continue; all actions and the steps taken."""
    out, steps = list(first), 1
    while out and isinstance(out[-1], Continue):
        assert out[-1] == Continue(P1)
        steps += 1
        out += sm.resume(P1, now)
        assert steps < 100
    return out, steps


def _without_steps(actions: list[Action]) -> list[Action]:
    return [a for a in actions if not isinstance(a, Continue | TipUpdated)]


def test_stepped_sync_ends_exactly_like_the_whole_message() -> None:
    headers = chain_2500()
    whole_chain, stepped_chain = SimChain.create(), SimChain.create()
    whole, stepped = SyncManager(whole_chain, SeededRandom(0)), SyncManager(stepped_chain, SeededRandom(0), headers_per_step=300)
    for sm in (whole, stepped):
        sm.add_peer(P1, 2500, NOW)
    a = whole.on_headers(P1, Headers(headers[:2000]), NOW)
    b, steps = _drive(stepped, stepped.on_headers(P1, Headers(headers[:2000]), NOW), NOW)
    assert steps == 7  # 6 x 300 + 200
    assert _without_steps(a) == _without_steps(b)
    assert sum(isinstance(x, RequestCompleted) for x in b) == 1
    tips = [x.result.tip.height for x in b if isinstance(x, TipUpdated)]
    assert tips == [300, 600, 900, 1200, 1500, 1800, 2000]
    # the follow-up request goes out once, after the last step, from the last header
    ((peer, req),) = getheaders_to(b)
    assert (peer, req.locator[0]) == (P1, headers[1999].hash)
    a = whole.on_headers(P1, Headers(headers[2000:]), NOW + 1)
    b, steps = _drive(stepped, stepped.on_headers(P1, Headers(headers[2000:]), NOW + 1), NOW + 1)
    assert steps == 2
    assert states(b) == states(a) == [SyncState.SYNCED]
    assert stepped_chain.tip_hash == whole_chain.tip_hash == headers[-1].hash


def test_an_invalid_header_in_a_later_step_bans_and_keeps_the_valid_steps() -> None:
    headers = list(chain_2500()[:1000])
    bad = mine_bad_pow(headers[699].hash, headers[699].time + 1, headers[699].bits)
    message = Headers((*headers[:700], bad))
    chain = SimChain.create()
    sm = SyncManager(chain, SeededRandom(0), headers_per_step=300)
    sm.add_peer(P1, 2500, NOW)
    sm.add_peer(P2, 2500, NOW)
    out, steps = _drive(sm, sm.on_headers(P1, message, NOW), NOW)
    assert steps == 3
    assert any(isinstance(x, HeadersRejected) and x.reason == "high-hash" for x in out)
    (drop,) = [x for x in out if isinstance(x, Disconnect)]
    assert drop.peer == P1
    assert drop.ban_seconds
    assert chain.tip_height == 600  # two whole steps passed every rule and stay
    assert sm.resume(P1, NOW) == []  # the rest of the message is gone with the peer
    assert [p for p, _ in getheaders_to(out)] == [P2]  # sync moves on


def test_a_peer_removed_between_steps_leaves_nothing_to_resume() -> None:
    sm = SyncManager(SimChain.create(), SeededRandom(0), headers_per_step=500)
    sm.add_peer(P1, 2500, NOW)
    out = sm.on_headers(P1, Headers(chain_2500()[:2000]), NOW)
    assert out[-1] == Continue(P1)
    sm.remove_peer(P1, NOW)
    assert sm.resume(P1, NOW) == []


def test_headers_per_step_must_be_positive() -> None:
    with pytest.raises(ValueError, match="headers_per_step"):
        SyncManager(SimChain.create(), SeededRandom(0), headers_per_step=0)
