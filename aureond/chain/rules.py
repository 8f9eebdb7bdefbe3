"""Contextual header rules: one header against the context of its parent.

Every rule applies on every network; networks differ only by their parameters.
``validate_header`` is the reference implementation, written for clarity; the batch
validator in ``aureond.chain.batch`` must agree with it on every input.

Rejection reasons (``HeaderRejectedError.reason``):

=================  ========  ==========================================================
reason             field     meaning
=================  ========  ==========================================================
bad-prevblk        prev      does not link to the parent
bad-bits-encoding  bits      non-canonical, negative, zero or overflowing compact bits
bad-diffbits       bits      bits differ from the expected difficulty
high-hash          nonce     PoW hash above the target (the network's ``pow_hash``)
time-too-old       time      not after the median of the previous 11 timestamps
time-too-new       time      more than the future limit (2 h) after the given "now"
time-timewarp      time      BIP94: first header of a period too far before its parent
bad-version        version   version below the minimum after BIP34/66/65 (and below
                             ``0x20000000`` after ``versionbits_height``)
checkpoint         hash      a checkpoint height with another hash
=================  ========  ==========================================================
"""

from __future__ import annotations

from aureond.chain.context import ChainContext
from aureond.chain.header import BlockHeader
from aureond.chain.params import VERSIONBITS_TOP_BITS, NetworkParams
from aureond.chain.target import bits_to_target, target_to_bits, work_from_target
from aureond.errors import ConfigError, EncodingError, HeaderRejectedError

__all__ = ["expected_bits", "min_version", "retarget", "retarget_start_time",
           "validate_header"]

_MAX_256 = (1 << 256) - 1


def retarget_start_time(params: NetworkParams, ctx: ChainContext) -> int:
    """The time the retarget after ``ctx`` measures from.

    Bitcoin: the period's first header (2,015 blocks back from ``ctx``). Litecoin:
    the header before it (a full 2,016 blocks back, which closes the time-warp hole),
    except for the first retarget after genesis, which measures from genesis.
    """
    if params.retarget_variant != "litecoin" or ctx.height + 1 == params.retarget_interval:
        return ctx.period_first_time
    start = ctx.time_before_period(params)
    if start is None:
        raise ConfigError("anchor", f"the {params.name} retarget at height "
                          f"{ctx.height + 1} needs the time of the header before height "
                          f"{ctx.height + 1 - params.retarget_interval}")
    return start


def retarget(params: NetworkParams, ctx: ChainContext) -> int:
    """The bits of the first header of a new period (``ctx`` is its parent)."""
    if params.no_retargeting:
        return ctx.bits
    span = params.target_timespan
    actual = min(max(ctx.time - retarget_start_time(params, ctx), span // 4), span * 4)
    base = ctx.period_first_bits if params.enforce_bip94 else ctx.bits
    target = bits_to_target(base)
    if params.retarget_variant == "litecoin":
        # Litecoin's 256-bit arithmetic: a target within one bit of the pow limit's
        # length is shifted right before the multiplication and back after (the
        # lowest bit is lost); products wrap at 256 bits as arith_uint256 does.
        shift = target.bit_length() > params.pow_limit.bit_length() - 1
        if shift:
            target >>= 1
        target = (target * actual & _MAX_256) // span
        if shift:
            target = target << 1 & _MAX_256
    else:
        target = target * actual // span
    return target_to_bits(min(target, params.pow_limit))


def expected_bits(params: NetworkParams, ctx: ChainContext, time: int) -> int:
    """The bits a header with timestamp ``time`` on top of ``ctx`` must carry."""
    height = ctx.height + 1
    if height % params.retarget_interval == 0:
        return retarget(params, ctx)
    if params.allow_min_difficulty:
        if time > ctx.time + 2 * params.target_spacing:
            return params.pow_limit_bits
        return ctx.walk_bits
    return ctx.bits


def min_version(params: NetworkParams, height: int) -> int:
    """The lowest header version allowed at ``height`` (BIP34, BIP66, BIP65, and
    Litecoin's version-bits minimum)."""
    if params.versionbits_height is not None and height >= params.versionbits_height:
        return VERSIONBITS_TOP_BITS
    if params.bip65_height is not None and height >= params.bip65_height:
        return 4
    if params.bip66_height is not None and height >= params.bip66_height:
        return 3
    if params.bip34_height is not None and height >= params.bip34_height:
        return 2
    return -(2**31)


def validate_header(params: NetworkParams, ctx: ChainContext, header: BlockHeader,
                    now: int) -> int:
    """Check ``header`` on top of ``ctx`` at time ``now``; return its work.

    Raises ``HeaderRejectedError`` naming the height, the field and the reason.
    """
    height = ctx.height + 1
    if header.prev_hash != ctx.hash:
        raise HeaderRejectedError(height, "prev", "bad-prevblk",
                                  "does not link to the previous header")
    try:
        target = bits_to_target(header.bits)
    except EncodingError as exc:
        raise HeaderRejectedError(height, "bits", "bad-bits-encoding", str(exc)) from None
    want = expected_bits(params, ctx, header.time)
    if header.bits != want:
        raise HeaderRejectedError(height, "bits", "bad-diffbits",
                                  f"got 0x{header.bits:08x}, expected 0x{want:08x}")
    if target > params.pow_limit:
        raise HeaderRejectedError(height, "bits", "bad-diffbits", "easier than pow limit")
    if int.from_bytes(params.pow_hash_of(header), "little") > target:
        raise HeaderRejectedError(height, "nonce", "high-hash",
                                  f"proof of work ({params.pow_hash}) does not meet the "
                                  "target")
    mtp = ctx.median_time_past()
    if header.time <= mtp:
        raise HeaderRejectedError(height, "time", "time-too-old",
                                  f"{header.time} is not after median time past {mtp}")
    if header.time > now + params.max_future_seconds:
        raise HeaderRejectedError(height, "time", "time-too-new",
                                  f"{header.time} is more than "
                                  f"{params.max_future_seconds}s after {now}")
    if (params.enforce_bip94 and height % params.retarget_interval == 0
            and header.time < ctx.time - params.max_timewarp_seconds):
        raise HeaderRejectedError(height, "time", "time-timewarp",
                                  f"{header.time} is more than "
                                  f"{params.max_timewarp_seconds}s before its parent")
    if header.version < min_version(params, height):
        raise HeaderRejectedError(height, "version", "bad-version",
                                  f"version {header.version} is below "
                                  f"{min_version(params, height)} at this height")
    cp = params.checkpoint_map.get(height)
    if cp is not None and cp != header.hash:
        raise HeaderRejectedError(height, "hash", "checkpoint",
                                  "does not match the checkpoint at this height")
    return work_from_target(target)
