"""The stress harness's own pieces: chain generator, served chain, reports, statistics."""

from __future__ import annotations

import pytest

from aureond.chain.batch import validate_batch
from aureond.chain.context import genesis_context
from aureond.chain.hashing import dsha256, hash_from_display
from aureond.chain.header import HEADER_SIZE
from aureond.chain.merkle import branch_root
from aureond.chain.params import REGTEST
from aureond.errors import HeaderRejectedError
from aureond.stress.chaingen import iter_raw_batches, mine_raw, unmined_header
from aureond.stress.commit import COMMIT_EVERY, committed_merkle_of, electrum_proof
from aureond.stress.context import FAR_FUTURE
from aureond.stress.fakepeer import ServedChain
from aureond.stress.measure import summarize_latencies
from aureond.stress.memory import slope_per_10k
from aureond.stress.report import Check, Outcome, ScenarioReport


def test_mined_chain_validates_as_regtest() -> None:
    raw, last = mine_raw(REGTEST.genesis, 300, spacing=7)
    result = validate_batch(REGTEST, genesis_context(REGTEST), raw, FAR_FUTURE)
    assert result.context.height == 300
    assert result.context.hash == last == dsha256(raw[-HEADER_SIZE:])


def test_batches_join_into_one_chain() -> None:
    joined = b"".join(iter_raw_batches(REGTEST.genesis, 45, 20))
    assert joined == mine_raw(REGTEST.genesis, 45)[0]


def test_unmined_header_is_refused_for_its_proof_of_work() -> None:
    bad = unmined_header(REGTEST.genesis)
    with pytest.raises(HeaderRejectedError) as info:
        validate_batch(REGTEST, genesis_context(REGTEST), bad, FAR_FUTURE)
    assert info.value.reason == "high-hash"


def test_committed_blocks_carry_the_tree_their_proofs_fold_to() -> None:
    proof = electrum_proof(COMMIT_EVERY)
    root = branch_root(hash_from_display(proof["tx_hash"]),
                       [hash_from_display(m) for m in proof["merkle"]], proof["pos"])
    assert root == committed_merkle_of(COMMIT_EVERY, bytes(32))
    with pytest.raises(ValueError, match="commits to no tree"):
        electrum_proof(COMMIT_EVERY + 1)


@pytest.mark.parametrize(("locator_height", "limit", "expected"), [
    (None, 5, range(1, 6)),     # nothing known: from genesis
    (0, 3, range(1, 4)),
    (7, 2000, range(8, 11)),    # up to the tip
    (10, 2000, range(0)),       # at the tip: nothing more
])
def test_served_chain_answers_after_the_first_known_locator_hash(
        locator_height: int | None, limit: int, expected: range) -> None:
    chain = ServedChain(REGTEST.genesis)
    raw, _ = mine_raw(REGTEST.genesis, 10)
    chain.extend(raw)
    hashes = [REGTEST.genesis.hash] + [dsha256(raw[o:o + HEADER_SIZE])
                                       for o in range(0, len(raw), HEADER_SIZE)]
    locator = (bytes(32),) if locator_height is None else (bytes(32), hashes[locator_height])
    got = chain.after(locator, limit)
    assert got == b"".join(raw[(h - 1) * HEADER_SIZE:h * HEADER_SIZE] for h in expected)
    assert chain.tip_height == 10
    assert chain.height_of(hashes[4]) == 4


@pytest.mark.parametrize(("samples", "slope"), [
    ([(0, 40.0), (40_000, 50.0), (60_000, 50.0), (80_000, 50.0)], 0.0),
    ([(0, 10.0), (40_000, 12.0), (50_000, 13.0), (60_000, 14.0)], 1.0),
    ([(0, 10.0), (10_000, 11.0)], 1.0),  # too few after warm-up: the last two
])
def test_growth_slope_per_10k(samples: list[tuple[int, float]], slope: float) -> None:
    assert slope_per_10k(samples) == pytest.approx(slope)


def test_latency_percentiles_are_nearest_rank() -> None:
    summary = summarize_latencies([i / 1000 for i in range(1, 101)])
    assert summary is not None
    assert (summary.p50_ms, summary.p95_ms, summary.p99_ms, summary.max_ms) == \
        pytest.approx((50.0, 95.0, 99.0, 100.0))
    assert summarize_latencies([]) is None


def _report(outcome: Outcome) -> ScenarioReport:
    return ScenarioReport("x", outcome, 1.0, 1.0, 1.0, 1.0, None, None, None)


@pytest.mark.parametrize(("outcome", "passed"), [
    (Outcome(10, 0), True),
    (Outcome(10, 1), False),
    (Outcome(0, 0), False),
    (Outcome(10, 0, faults_injected=3, faults_accounted=3), True),
    (Outcome(10, 0, faults_injected=3, faults_accounted=2), False),
    (Outcome(10, 0, checks=(Check("mem", 0.6, 0.5),)), False),
    (Outcome(10, 0, checks=(Check("p99", 9.0, 5.0, enforced=False),)), True),
    (Outcome(10, 0, checks=(Check("rate", 9.0, 5.0, at_least=True),)), True),
])
def test_a_report_passes_only_when_every_bar_holds(outcome: Outcome, passed: bool) -> None:
    assert _report(outcome).passed is passed
