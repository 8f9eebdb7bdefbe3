"""Rules the real data cannot show, built from the BIPs with mined test headers.

The networks here are the built-in ones with an easy proof-of-work limit (and, where a
retarget must happen, a short interval) so headers can be mined in a test.
"""

from __future__ import annotations

import dataclasses

import pytest

from aureond.chain.batch import validate_batch
from aureond.chain.context import ChainContext, anchor_context
from aureond.chain.header import BlockHeader
from aureond.chain.params import MAINNET, REGTEST, TESTNET3, TESTNET4, Checkpoint, NetworkParams
from aureond.chain.rules import expected_bits, validate_header
from aureond.chain.target import bits_to_target, target_to_bits
from aureond.errors import ConfigError, HeaderRejectedError
from tests.chain.helpers import FAR_FUTURE, chain_of, easy_params, mine, mine_bad_pow

INTERVAL = 16
SPAN = INTERVAL * 600
EASY_BITS = 0x2000FFFF  # well below the easy pow limit, so retargets can move both ways


def _net(base: NetworkParams, **changes: object) -> NetworkParams:
    return easy_params(base, retarget_interval=INTERVAL, target_timespan=SPAN,
                       **changes)


def _anchor(params: NetworkParams, bits: int = EASY_BITS, time: int = 1_600_000_000,
            height: int = INTERVAL * 10) -> tuple[ChainContext, BlockHeader]:
    anchor = mine(b"\x01" * 32, time, bits)
    return anchor_context(params, anchor, height), anchor


def _extend(params: NetworkParams, ctx: ChainContext, headers: list[BlockHeader]) -> ChainContext:
    raw = b"".join(h.serialize() for h in headers)
    return validate_batch(params, ctx, raw, FAR_FUTURE).context


def _reject(params: NetworkParams, ctx: ChainContext, header: BlockHeader, now: int = FAR_FUTURE,
            ) -> HeaderRejectedError:
    with pytest.raises(HeaderRejectedError) as info:
        validate_header(params, ctx, header, now)
    # The batch path agrees.
    with pytest.raises(HeaderRejectedError) as binfo:
        validate_batch(params, ctx, header.serialize(), now)
    assert (binfo.value.height, binfo.value.reason) == (info.value.height, info.value.reason)
    return info.value


# --- retarget -----------------------------------------------------------------------

@pytest.mark.parametrize(("spacing", "span_used"), [
    # A period of INTERVAL headers has INTERVAL - 1 gaps (Bitcoin's off-by-one).
    (600, 15 * 600),       # nearly on schedule
    (300, 15 * 300),       # about twice as fast
    (1200, 15 * 1200),     # about twice as slow
    (60, SPAN // 4),       # ten times as fast: clamped to a quarter of the timespan
    (6000, SPAN * 4),      # ten times as slow: clamped to four times
])
def test_retarget_with_clamp(spacing: int, span_used: int) -> None:
    params = _net(MAINNET)
    ctx, anchor = _anchor(params)
    period = chain_of(params, anchor, INTERVAL - 1, spacing=spacing)
    ctx = _extend(params, ctx, period)
    want = target_to_bits(bits_to_target(EASY_BITS) * span_used // SPAN)
    assert expected_bits(params, ctx, period[-1].time + 600) == want
    good = mine(period[-1].hash, period[-1].time + 600, want)
    assert validate_header(params, ctx, good, FAR_FUTURE) > 0
    bad = mine(period[-1].hash, period[-1].time + 600, EASY_BITS if want != EASY_BITS
               else target_to_bits(bits_to_target(EASY_BITS) // 2))
    assert _reject(params, ctx, bad).reason == "bad-diffbits"


def test_retarget_never_easier_than_pow_limit() -> None:
    params = _net(MAINNET)
    limit_bits = params.pow_limit_bits
    ctx, anchor = _anchor(params, bits=limit_bits)
    period = chain_of(params, anchor, INTERVAL - 1, spacing=6000)
    ctx = _extend(params, ctx, period)
    assert expected_bits(params, ctx, period[-1].time + 600) == limit_bits


def test_regtest_never_retargets() -> None:
    params = easy_params(REGTEST, retarget_interval=INTERVAL, target_timespan=SPAN)
    ctx, anchor = _anchor(params, bits=REGTEST.pow_limit_bits, height=INTERVAL)
    period = chain_of(params, anchor, INTERVAL - 1, spacing=1)
    ctx = _extend(params, ctx, period)
    nxt = mine(period[-1].hash, period[-1].time + 1, REGTEST.pow_limit_bits)
    assert validate_header(params, ctx, nxt, FAR_FUTURE) > 0


# --- testnet 20-minute rule and walk-back ---------------------------------------------

def test_testnet3_twenty_minute_rule_and_walk_back() -> None:
    params = _net(TESTNET3, allow_min_difficulty=True)
    limit = params.pow_limit_bits
    ctx, anchor = _anchor(params)
    # A block more than 20 minutes after its parent may (must) use the minimum difficulty.
    slow = mine(anchor.hash, anchor.time + 1201, limit)
    assert validate_header(params, ctx, slow, FAR_FUTURE) > 0
    ctx = ctx.advance(params, slow, 1)
    # The next, on time, walks back past the min-difficulty block to the real bits.
    back = mine(slow.hash, slow.time + 600, EASY_BITS)
    assert validate_header(params, ctx, back, FAR_FUTURE) > 0
    wrong = mine(slow.hash, slow.time + 600, limit)
    assert _reject(params, ctx, wrong).reason == "bad-diffbits"
    # Exactly 20 minutes is not "more than" 20 minutes.
    on_edge = mine(slow.hash, slow.time + 1200, limit)
    assert _reject(params, ctx, on_edge).reason == "bad-diffbits"


def test_mainnet_has_no_twenty_minute_rule() -> None:
    params = _net(MAINNET)
    ctx, anchor = _anchor(params)
    slow = mine(anchor.hash, anchor.time + 5000, params.pow_limit_bits)
    assert _reject(params, ctx, slow).reason == "bad-diffbits"


# --- BIP94 (testnet4) -------------------------------------------------------------------

def _period_with_min_diff_last(params: NetworkParams) -> tuple[ChainContext, list[BlockHeader],
                                                      BlockHeader]:
    ctx, anchor = _anchor(params)
    body = chain_of(params, anchor, INTERVAL - 2, spacing=600)
    last = mine(body[-1].hash, body[-1].time + 1300,
                params.pow_limit_bits)
    headers = [*body, last]
    return _extend(params, ctx, headers), headers, anchor


def test_bip94_retarget_uses_the_period_first_block_bits() -> None:
    params4 = _net(TESTNET4)
    ctx, headers, anchor = _period_with_min_diff_last(params4)
    actual = headers[-1].time - anchor.time
    want = target_to_bits(bits_to_target(EASY_BITS) * actual // SPAN)
    assert expected_bits(params4, ctx, headers[-1].time + 600) == want
    # Without BIP94 (testnet3) the min-difficulty last block would set the base.
    params3 = _net(TESTNET3)
    ctx3, headers3, anchor3 = _period_with_min_diff_last(params3)
    limit = params3.pow_limit
    want3 = target_to_bits(min(limit, limit * (headers3[-1].time - anchor3.time) // SPAN))
    assert expected_bits(params3, ctx3, headers3[-1].time + 600) == want3
    assert want3 != want


def test_bip94_timewarp_guard() -> None:
    params = _net(TESTNET4)
    ctx, anchor = _anchor(params)
    body = chain_of(params, anchor, INTERVAL - 1, spacing=600)
    ctx = _extend(params, ctx, body)
    parent = body[-1]
    bits = expected_bits(params, ctx, parent.time - 601)
    # 601 s before the parent: still after the median time past, but a time warp.
    assert ctx.median_time_past() < parent.time - 601
    warped = mine(parent.hash, parent.time - 601, bits)
    assert _reject(params, ctx, warped).reason == "time-timewarp"
    ok = mine(parent.hash, parent.time - 600, expected_bits(params, ctx, parent.time - 600))
    assert validate_header(params, ctx, ok, FAR_FUTURE) > 0
    # Without BIP94 the same header is fine.
    params3 = dataclasses.replace(params, enforce_bip94=False)
    assert validate_header(params3, ctx, warped, FAR_FUTURE) > 0


# --- time rules -----------------------------------------------------------------------

def test_median_time_past() -> None:
    params = easy_params(REGTEST)
    ctx, anchor = _anchor(params, bits=REGTEST.pow_limit_bits, height=0 + 1)
    # 11 headers with times t+1..t+11: the median is t+6.
    headers = chain_of(params, anchor, 11, spacing=1)
    ctx = _extend(params, ctx, headers)
    mtp = sorted(h.time for h in headers)[5]
    assert ctx.median_time_past() == mtp
    at_median = mine(headers[-1].hash, mtp, REGTEST.pow_limit_bits)
    assert _reject(params, ctx, at_median).reason == "time-too-old"
    after = mine(headers[-1].hash, mtp + 1, REGTEST.pow_limit_bits)
    assert validate_header(params, ctx, after, FAR_FUTURE) > 0


def test_future_limit_two_hours() -> None:
    params = easy_params(REGTEST)
    ctx, anchor = _anchor(params, bits=REGTEST.pow_limit_bits, height=1)
    now = anchor.time + 10
    ok = mine(anchor.hash, now + 7200, REGTEST.pow_limit_bits)
    assert validate_header(params, ctx, ok, now) > 0
    late = mine(anchor.hash, now + 7201, REGTEST.pow_limit_bits)
    assert _reject(params, ctx, late, now).reason == "time-too-new"


# --- versions and checkpoints ---------------------------------------------------------

@pytest.mark.parametrize(("height", "version", "ok"), [
    (99, 1, True), (100, 1, False), (100, 2, True),
    (199, 2, True), (200, 2, False), (200, 3, True),
    (299, 3, True), (300, 3, False), (300, 4, True), (300, 0x20000000, True),
])
def test_version_minimums_after_bip34_66_65(height: int, version: int, ok: bool) -> None:
    params = easy_params(REGTEST, bip34_height=100, bip66_height=200, bip65_height=300)
    ctx, anchor = _anchor(params, bits=REGTEST.pow_limit_bits, height=height - 1)
    header = mine(anchor.hash, anchor.time + 1, REGTEST.pow_limit_bits, version=version)
    if ok:
        assert validate_header(params, ctx, header, FAR_FUTURE) > 0
    else:
        assert _reject(params, ctx, header).reason == "bad-version"


def test_checkpoint_mismatch_rejected() -> None:
    anchor = mine(b"\x01" * 32, 1_600_000_000, REGTEST.pow_limit_bits)
    good = mine(anchor.hash, anchor.time + 1, REGTEST.pow_limit_bits)
    params = easy_params(REGTEST, checkpoints=(Checkpoint(51, good.hash),))
    ctx = anchor_context(params, anchor, 50)
    assert validate_header(params, ctx, good, FAR_FUTURE) > 0
    other = mine(anchor.hash, anchor.time + 2, REGTEST.pow_limit_bits)
    assert _reject(params, ctx, other).reason == "checkpoint"


def test_anchor_must_be_a_retarget_boundary_and_match_checkpoints() -> None:
    anchor = mine(b"\x01" * 32, 1_600_000_000, EASY_BITS)
    with pytest.raises(ConfigError, match="retarget boundary"):
        anchor_context(MAINNET, anchor, 2017)
    with_cp = easy_params(MAINNET, checkpoints=(Checkpoint(4032, b"\x02" * 32),))
    with pytest.raises(ConfigError, match="checkpoint"):
        anchor_context(with_cp, anchor, 4032)
    with pytest.raises(ConfigError, match="genesis"):
        anchor_context(MAINNET, anchor, 0)


def test_bad_pow_rejected_even_with_right_bits() -> None:
    params = easy_params(REGTEST)
    ctx, anchor = _anchor(params, bits=EASY_BITS, height=1)
    bad = mine_bad_pow(anchor.hash, anchor.time + 1, EASY_BITS)
    assert _reject(params, ctx, bad).reason == "high-hash"
