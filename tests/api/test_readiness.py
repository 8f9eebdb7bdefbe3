"""The readiness rules (tip within one block of the best peer, fresh tip, >= 1 peer)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aureond.api import SyncState, assess_sync
from aureond.api.readiness import DEFAULT_STALE_AFTER

NOW = 1_700_000_000.0
FRESH = NOW - 600
STALE = NOW - DEFAULT_STALE_AFTER - 1

S, SY, N, X = SyncState.SYNCED, SyncState.INITIAL_SYNC, SyncState.CONNECTING, SyncState.STALLED


@pytest.mark.parametrize(("tip", "tip_time", "best", "peers", "progressing", "state"), [
    (100, FRESH, 100, 1, True, S),     # level with the best peer
    (99, FRESH, 100, 3, True, S),      # one behind still counts as synced
    (101, FRESH, 100, 1, True, S),     # ahead of a peer that started earlier
    (98, FRESH, 100, 1, True, SY),      # two behind: catching up
    (0, FRESH, 830000, 8, True, SY),    # initial sync from genesis
    (98, FRESH, 100, 1, False, X),     # behind and not advancing
    (100, STALE, 100, 1, True, X),     # level but the tip is stale
    (100, NOW - DEFAULT_STALE_AFTER, 100, 1, True, S),  # exactly at the limit: fresh
    (100, FRESH, 100, 0, True, N),     # no peer at all
    (100, FRESH, None, 0, True, N),
    (100, FRESH, None, 2, True, SY),    # peers connected, none reported a height yet
])
def test_assess_sync_table(tip: int, tip_time: float, best: int | None, peers: int,
                           progressing: bool, state: SyncState) -> None:
    info = assess_sync(tip_height=tip, tip_time=tip_time, best_peer_height=best,
                       connected_peers=peers, now=NOW, progressing=progressing)
    assert info.state is state
    assert info.ready is (state is S)
    assert bool(info.reasons) is (state is not S)


def test_progress_is_the_share_of_the_best_height() -> None:
    info = assess_sync(tip_height=207500, tip_time=FRESH, best_peer_height=830000,
                       connected_peers=1, now=NOW)
    assert info.progress == pytest.approx(0.25)
    assert "622500 blocks behind" in info.reasons[0]


@given(tip=st.integers(0, 10**7), best=st.one_of(st.none(), st.integers(0, 10**7)),
       peers=st.integers(0, 20), age=st.floats(-1e4, 1e6), progressing=st.booleans())
def test_ready_only_when_all_three_rules_hold(tip: int, best: int | None, peers: int,
                                              age: float, progressing: bool) -> None:
    info = assess_sync(tip_height=tip, tip_time=NOW - age, best_peer_height=best,
                       connected_peers=peers, now=NOW, progressing=progressing)
    rules = (peers >= 1 and best is not None and best - tip <= 1
             and age <= DEFAULT_STALE_AFTER)
    assert info.ready is rules
    if peers < 1 or best is None:
        assert info.progress is None
    else:
        assert info.progress is not None
        assert 0.0 <= info.progress <= 1.0


@pytest.mark.parametrize(("best", "peers"), [(None, 0), (None, 2), (500, 0)])
def test_without_a_peer_height_progress_is_unknown_not_100_percent(best: int | None,
                                                                   peers: int) -> None:
    info = assess_sync(tip_height=0, tip_time=FRESH, best_peer_height=best,
                       connected_peers=peers, now=NOW)
    assert info.progress is None
    assert not info.ready
