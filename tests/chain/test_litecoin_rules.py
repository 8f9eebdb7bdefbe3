"""Litecoin's header rules: each quirk of its pow.cpp, and the batch validator on them.

Retarget arithmetic is checked against Litecoin Core's own vectors (real mainnet times
and bits from its pow_tests); the walk-back of every retarget is checked on mined
chains against a plain transcription of ``GetNextWorkRequired`` over a list of headers,
which knows nothing of the validation context.
"""

from __future__ import annotations

import dataclasses
import itertools
import random

import pytest

from aureond.chain.batch import validate_batch
from aureond.chain.context import ChainContext, anchor_context, genesis_context
from aureond.chain.header import BlockHeader
from aureond.chain.params import LITECOIN, LITECOIN_REGTEST, LITECOIN_TESTNET, NetworkParams
from aureond.chain.rules import expected_bits, min_version, retarget, validate_header
from aureond.chain.target import bits_to_target, target_to_bits
from aureond.errors import ConfigError, HeaderRejectedError
from tests.chain.helpers import FAR_FUTURE


def _ctx(height: int, time: int, bits: int, first_time: int,
         before: int | None) -> ChainContext:
    return ChainContext(height, b"\x00" * 32, time, bits, 0, (time,), first_time, bits, bits,
                        before)


# --- retarget arithmetic: Litecoin Core's pow_tests vectors ------------------------

@pytest.mark.parametrize(("height", "time", "bits", "start", "want"), [
    (280223, 1358378777, 0x1C0AC141, 1358118740, 0x1C093F8D),   # no limit applies
    (2015, 1318480354, 0x1E0FFFF0, 1317972665, 0x1E0FFFFF),     # capped at the pow limit
    (578591, 1401757934, 0x1B075CF1, 1401682934, 0x1B01D73C),   # timespan clamped at /4
    (1001951, 1464900315, 0x1B015318, 1463690315, 0x1B054C60),  # timespan clamped at x4
])
def test_litecoin_core_retarget_vectors(height: int, time: int, bits: int, start: int,
                                        want: int) -> None:
    # The start time is the period's first header for the first retarget after genesis
    # and the header before the period for every later one; the other field is junk.
    first, before = (start, None) if height + 1 == 2016 else (0, start)
    assert retarget(LITECOIN, _ctx(height, time, bits, first, before)) == want


def test_first_retarget_measures_2015_blocks_later_ones_2016() -> None:
    span = LITECOIN.target_timespan
    # First retarget: from genesis (the period's first header), the header before the
    # period does not exist. Half the timespan: the target halves.
    first = _ctx(2015, 1_000_000 + span // 2, 0x1C100000, 1_000_000, None)
    assert retarget(LITECOIN, first) == 0x1C080000
    # Later: from the header before the period (2016 blocks back), not the period's
    # first header, which a Bitcoin-style retarget would use.
    later = _ctx(4031, 2_000_000 + span // 2, 0x1C100000, 2_000_000 + span // 4,
                 2_000_000)
    assert retarget(LITECOIN, later) == 0x1C080000
    bitcoin_style = dataclasses.replace(LITECOIN, retarget_variant="bitcoin")
    assert retarget(bitcoin_style, later) == 0x1C040000


def test_overflow_guard_drops_the_lowest_bit_near_the_pow_limit() -> None:
    """Litecoin shifts the target right one bit before the multiplication when its
    length is within one bit of the pow limit's, and back after: the lowest bit goes.
    A pow limit of 23 bits keeps every bit of the result visible in ``bits``."""
    small = dataclasses.replace(LITECOIN_TESTNET, pow_limit=0x7FFFFF,
                                allow_min_difficulty=False)
    span = small.target_timespan
    unchanged = _ctx(4031, 10 + span, 0x03400001, 10, 10)
    assert bits_to_target(0x03400001).bit_length() == 23
    assert retarget(small, unchanged) == 0x03400000  # shifted: the low bit is lost
    as_bitcoin = dataclasses.replace(small, retarget_variant="bitcoin")
    assert retarget(as_bitcoin, unchanged) == 0x03400001
    # One bit shorter: no shift, nothing lost.
    short = dataclasses.replace(unchanged, bits=0x03200001)
    assert retarget(small, short) == 0x03200001


def test_products_wrap_at_256_bits_like_arith_uint256() -> None:
    # With a pow limit of 2**256 - 1 nothing is shifted until 256 bits, so a 255-bit
    # target times four timespans overflows in Litecoin's 256-bit arithmetic.
    wide = dataclasses.replace(LITECOIN_TESTNET, pow_limit=(1 << 256) - 1,
                               allow_min_difficulty=False)
    span = wide.target_timespan
    ctx = _ctx(4031, 10 + 4 * span, 0x207FFFFF, 0, 10)
    target = bits_to_target(0x207FFFFF)
    want = target_to_bits((target * 4 * span % (1 << 256)) // span)
    assert retarget(wide, ctx) == want
    assert want != target_to_bits(min(4 * target, wide.pow_limit))


# --- the other rules ---------------------------------------------------------------

def test_testnet_min_difficulty_after_twice_the_150_second_spacing() -> None:
    ctx = _ctx(5000, 1_500_000_000, 0x1C0FFFF0, 0, 0)
    limit = LITECOIN_TESTNET.pow_limit_bits
    assert limit == 0x1E0FFFFF
    assert expected_bits(LITECOIN_TESTNET, ctx, ctx.time + 301) == limit
    assert expected_bits(LITECOIN_TESTNET, ctx, ctx.time + 300) == 0x1C0FFFF0
    # Mainnet has no such rule.
    assert expected_bits(LITECOIN, ctx, ctx.time + 10_000) == 0x1C0FFFF0


def test_regtest_never_retargets() -> None:
    ctx = _ctx(2015, 10**9, 0x207FFFFF, 10, None)
    assert expected_bits(LITECOIN_REGTEST, ctx, ctx.time + 1) == 0x207FFFFF
    retargeting = dataclasses.replace(LITECOIN_REGTEST, no_retargeting=False,
                                      pow_limit=(1 << 236) - 1)
    assert expected_bits(retargeting, dataclasses.replace(ctx, bits=0x1E0FFFF0),
                         ctx.time + 1) != 0x1E0FFFF0


def test_version_bits_minimum_from_the_segwit_height() -> None:
    assert min_version(LITECOIN, 1201535) == 4
    assert min_version(LITECOIN, 1201536) == 0x20000000
    assert min_version(LITECOIN, 918684) == 4
    assert min_version(LITECOIN, 918683) == 3
    assert min_version(LITECOIN_REGTEST, 1) == 0x20000000


def test_litecoin_anchor_needs_the_time_before_it() -> None:
    header = BlockHeader(0x20000000, b"\x01" * 32, b"\x02" * 32, 1_500_000_000, 0x1E0FFFF0, 0)
    with pytest.raises(ConfigError, match="before the anchor"):
        anchor_context(LITECOIN_TESTNET, header, 4032)
    ctx = anchor_context(LITECOIN_TESTNET, header, 4032, earlier_times=(1_499_999_000,))
    assert ctx.before_period_time == 1_499_999_000
    # Regtest never retargets, so it needs nothing more.
    anchor_context(LITECOIN_REGTEST, header, 4032)


# --- mined chains against a transcription of GetNextWorkRequired --------------------

INTERVAL = 16
SPACING = 2
# A pow limit of 249 bits and a 32-second timespan: the largest target times four
# timespans still fits 256 bits once shifted, as Litecoin's own parameters do.
TEST_LTC = NetworkParams(
    name="test-litecoin-retarget", magic=b"test", default_port=1,
    genesis=BlockHeader(1, b"\x00" * 32, b"\x03" * 32, 1_600_000_000, 0x2001FFFF, 0),
    pow_limit=(1 << 249) - 1, pow_hash="sha256d",  # sha256d: fast to mine in a test
    retarget_variant="litecoin", retarget_interval=INTERVAL,
    target_timespan=INTERVAL * SPACING, target_spacing=SPACING)


def _next_work(params: NetworkParams, chain: list[BlockHeader], time: int) -> int:
    """Litecoin's GetNextWorkRequired, header list in, no context."""
    last = chain[-1]
    height = len(chain)
    interval = params.retarget_interval
    if height % interval:
        return last.bits
    back = interval - 1 if height == interval else interval
    first = chain[height - 1 - back]
    span = params.target_timespan
    actual = min(max(last.time - first.time, span // 4), span * 4)
    new = bits_to_target(last.bits)
    shift = new.bit_length() > params.pow_limit.bit_length() - 1
    if shift:
        new >>= 1
    new = new * actual % (1 << 256) // span
    if shift:
        new = (new << 1) % (1 << 256)
    return target_to_bits(min(new, params.pow_limit))


def _mine(params: NetworkParams, prev: BlockHeader, time: int, bits: int) -> BlockHeader:
    target = bits_to_target(bits)
    nonce = 0
    while True:
        h = BlockHeader(0x20000000, prev.hash, prev.merkle_root, time, bits, nonce)
        if int.from_bytes(params.pow_hash_of(h), "little") <= target:
            return h
        nonce += 1


def _genesis(params: NetworkParams) -> NetworkParams:
    """``params`` with a genesis that meets its own proof of work."""
    g = params.genesis
    target = bits_to_target(g.bits)
    nonce = 0
    while True:
        h = dataclasses.replace(g, nonce=nonce, hash=b"")
        if int.from_bytes(params.pow_hash_of(h), "little") <= target:
            return dataclasses.replace(params, genesis=h)
        nonce += 1


def _mined_chain(params: NetworkParams, periods: int, seed: int) -> list[BlockHeader]:
    rng = random.Random(seed)
    chain = [params.genesis]
    for _ in range(periods * INTERVAL):
        time = chain[-1].time + rng.randint(1, 2 * SPACING - 1)
        chain.append(_mine(params, chain[-1], time, _next_work(params, chain, time)))
    return chain


@pytest.fixture(scope="module")
def ltc_net() -> NetworkParams:
    return _genesis(TEST_LTC)


@pytest.fixture(scope="module")
def ltc_chain(ltc_net: NetworkParams) -> list[BlockHeader]:
    return _mined_chain(ltc_net, 6, seed=5)


def test_mined_chain_is_accepted_by_batch_and_reference(
        ltc_net: NetworkParams, ltc_chain: list[BlockHeader]) -> None:
    raw = b"".join(h.serialize() for h in ltc_chain[1:])
    fast = validate_batch(ltc_net, genesis_context(ltc_net), raw, FAR_FUTURE)
    ref = genesis_context(ltc_net)
    for h in ltc_chain[1:]:
        ref = ref.advance(ltc_net, h, validate_header(ltc_net, ref, h, FAR_FUTURE))
    assert fast.context == ref
    assert fast.context.height == 6 * INTERVAL
    # The chain does retarget (so the walk-back was exercised), both ways.
    retargets = {h.bits for h in ltc_chain[INTERVAL::INTERVAL]}
    assert len(retargets) >= 5


def test_batches_split_anywhere_agree(ltc_net: NetworkParams,
                                      ltc_chain: list[BlockHeader]) -> None:
    """Runs starting mid-period, at a boundary and just after one each carry the
    header-before-the-period time across to the next run."""
    whole = validate_batch(ltc_net, genesis_context(ltc_net),
                           b"".join(h.serialize() for h in ltc_chain[1:]), FAR_FUTURE)
    for cuts in ((11, 16, 17, 31, 32, 33, 60), (15, 47, 48, 80), (12, 40, 95)):
        ctx = genesis_context(ltc_net)
        bounds = (0, *cuts, len(ltc_chain) - 1)
        for a, b in itertools.pairwise(bounds):
            run = b"".join(h.serialize() for h in ltc_chain[a + 1:b + 1])
            ctx = validate_batch(ltc_net, ctx, run, FAR_FUTURE).context
        assert ctx == whole.context, cuts


def test_bitcoin_style_retarget_is_refused(ltc_net: NetworkParams,
                                           ltc_chain: list[BlockHeader]) -> None:
    """A boundary header carrying what a Bitcoin-style retarget (2,015 blocks back)
    computes is refused, by the batch validator and the reference alike."""
    as_bitcoin = dataclasses.replace(ltc_net, retarget_variant="bitcoin")
    for height in range(2 * INTERVAL, len(ltc_chain), INTERVAL):
        prefix = ltc_chain[:height]
        ctx = genesis_context(ltc_net)
        for h in prefix[1:]:
            ctx = ctx.advance(ltc_net, h, validate_header(ltc_net, ctx, h, FAR_FUTURE))
        wrong = retarget(as_bitcoin, ctx)
        if wrong == ltc_chain[height].bits:
            continue
        bad = _mine(ltc_net, prefix[-1], ltc_chain[height].time, wrong)
        raw = b"".join(h.serialize() for h in (*prefix[1:], bad))
        with pytest.raises(HeaderRejectedError) as info:
            validate_batch(ltc_net, genesis_context(ltc_net), raw, FAR_FUTURE)
        assert (info.value.height, info.value.reason) == (height, "bad-diffbits")
        return
    raise AssertionError("no boundary where the two retargets differ")
