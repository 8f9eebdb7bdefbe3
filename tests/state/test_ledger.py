"""The ledger: apply, undo, reorgs equal to a replay of the best chain, adoption."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aureond.state.errors import LedgerError
from aureond.state.ledger import BlockRef, Ledger, MoveKind
from aureond.state.scanner import BlockScan
from tests.state.helpers import fingerprint, h, synthetic_scan

A, B, C = b"\x51", b"\x52", b"\x53"


def test_credit_then_spend_then_undo() -> None:
    ledger = Ledger()
    ledger.watch(A, 1)
    ledger.apply(1, synthetic_scan(1, 0, [(100, A, 50)], []))
    ledger.apply(2, synthetic_scan(2, 1, [(101, B, 7)], [(102, 100)]))
    assert ledger.coins_of(A) == []
    assert [m.kind for m in ledger.history_of(A)] == [MoveKind.CREDIT, MoveKind.DEBIT]
    assert ledger.coins_of(B) == [], "an unwatched script is never credited"
    ledger.undo()
    assert [c.value for c in ledger.coins_of(A)] == [50]
    assert ledger.tip == BlockRef(1, h(1))


def test_apply_must_extend_the_tip() -> None:
    ledger = Ledger()
    ledger.apply(1, synthetic_scan(1, 0, [], []))
    with pytest.raises(LedgerError, match="does not extend"):
        ledger.apply(2, synthetic_scan(2, 99, [], []))
    with pytest.raises(LedgerError, match="does not extend"):
        ledger.apply(3, synthetic_scan(3, 1, [], []))


def test_reorg_deeper_than_undo_history_is_refused() -> None:
    ledger = Ledger(max_undo=2)
    for i in range(1, 5):
        ledger.apply(i, synthetic_scan(i, i - 1, [], []))
    ledger.undo_to(2)
    with pytest.raises(LedgerError, match="deeper than the 2 blocks"):
        ledger.undo()


def test_watch_below_the_tip_needs_a_rescan() -> None:
    ledger = Ledger()
    ledger.apply(5, synthetic_scan(5, 4, [], []))
    with pytest.raises(LedgerError, match="separate ledger"):
        ledger.watch(A, 3)
    ledger.watch(A, 6)


def test_a_script_watched_from_a_later_height_ignores_earlier_credits() -> None:
    ledger = Ledger()
    ledger.watch(A, 2)
    ledger.apply(1, synthetic_scan(1, 0, [(100, A, 5)], []))
    ledger.apply(2, synthetic_scan(2, 1, [(101, A, 6)], []))
    assert [c.value for c in ledger.coins_of(A)] == [6]


def test_adopt_a_rescan() -> None:
    main, sub = Ledger(), Ledger()
    main.watch(A, 1)
    sub.watch(B, 1)
    scans = [synthetic_scan(1, 0, [(100, A, 5), (101, B, 6)], []),
             synthetic_scan(2, 1, [], [(102, 101)])]
    for i, scan in enumerate(scans, 1):
        main.apply(i, scan)
        sub.apply(i, scan)
    main.adopt(sub)
    both = Ledger()
    both.watch(A, 1)
    both.watch(B, 1)
    for i, scan in enumerate(scans, 1):
        both.apply(i, scan)
    assert fingerprint(main) == fingerprint(both)
    main.undo()
    both.undo()
    assert fingerprint(main) == fingerprint(both)


def test_adopt_needs_the_same_tip() -> None:
    main, sub = Ledger(), Ledger()
    main.apply(1, synthetic_scan(1, 0, [], []))
    with pytest.raises(LedgerError, match="cannot adopt"):
        main.adopt(sub)


def test_unwatch_forgets_coins_and_history() -> None:
    ledger = Ledger()
    ledger.watch(A, 1)
    ledger.apply(1, synthetic_scan(1, 0, [(100, A, 5)], []))
    ledger.unwatch([A])
    assert ledger.coins == {}
    assert ledger.history_of(A) == []
    ledger.undo()
    assert ledger.coins == {}


# --- the property: state == replay of the best chain ----------------------------------

SCRIPTS = (A, B, C)


@st.composite
def branch(draw: st.DrawFn, first_id: int, length: int,
           inherited: list[int]) -> list[tuple[list[tuple[int, bytes, int]], list[tuple[int, int]]]]:
    """Blocks of credits and debits; debits spend earlier credits of the same chain."""
    blocks = []
    live = list(inherited)
    tx = first_id * 1000
    for _ in range(length):
        credits: list[tuple[int, bytes, int]] = []
        debits: list[tuple[int, int]] = []
        for _ in range(draw(st.integers(0, 3))):
            tx += 1
            credits.append((tx, draw(st.sampled_from((*SCRIPTS, b"\x00"))), draw(
                st.integers(1, 10**8))))
        spend = draw(st.booleans())
        if live and spend:
            spent = draw(st.sampled_from(live))
            live.remove(spent)
            tx += 1
            debits.append((tx, spent))
        live += [t for t, _, _ in credits]
        blocks.append((credits, debits))
    return blocks


def chain_scans(start_id: int, parent: int, blocks: list[tuple[list[tuple[int, bytes, int]],
                list[tuple[int, int]]]]) -> list[BlockScan]:
    scans, prev = [], parent
    for i, (credits, debits) in enumerate(blocks):
        bid = start_id + i
        scans.append(synthetic_scan(bid, prev, credits, debits))
        prev = bid
    return scans


def fresh(scans: list[BlockScan]) -> Ledger:
    ledger = Ledger()
    for s in SCRIPTS:
        ledger.watch(s, 1)
    for height, scan in enumerate(scans, 1):
        ledger.apply(height, scan)
    return ledger


@settings(max_examples=60, deadline=None)
@given(st.data(), st.integers(1, 6), st.integers(1, 6), st.integers(1, 7))
def test_reorg_equals_replay_of_the_new_branch(data: st.DataObject, common: int,
                                               old_len: int, new_len: int) -> None:
    prefix = data.draw(branch(1, common, []))
    prefix_scans = chain_scans(1, 0, prefix)
    credited = [t for credits, _ in prefix for t, _, _ in credits]
    spent = {s for _, debits in prefix for _, s in debits}
    live = [t for t in credited if t not in spent]
    old = chain_scans(100, common, data.draw(branch(2, old_len, live)))
    new = chain_scans(200, common, data.draw(branch(3, new_len, live)))

    ledger = fresh(prefix_scans + old)
    ledger.undo_to(common)
    assert fingerprint(ledger) == fingerprint(fresh(prefix_scans))
    for height, scan in enumerate(new, common + 1):
        ledger.apply(height, scan)
    assert fingerprint(ledger) == fingerprint(fresh(prefix_scans + new))
