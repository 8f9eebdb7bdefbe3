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
high-hash          nonce     hash above the target (proof of work not met)
time-too-old       time      not after the median of the previous 11 timestamps
time-too-new       time      more than the future limit (2 h) after the given "now"
time-timewarp      time      BIP94: first header of a period too far before its parent
bad-version        version   version below the minimum after BIP34/66/65
checkpoint         hash      a checkpoint height with another hash
=================  ========  ==========================================================
"""

from __future__ import annotations

from aureond.chain.context import ChainContext
from aureond.chain.header import BlockHeader
from aureond.chain.params import NetworkParams
from aureond.chain.target import bits_to_target, target_to_bits, work_from_target
from aureond.errors import EncodingError, HeaderRejectedError

__all__ = ["expected_bits", "min_version", "retarget", "validate_header"]


def retarget(params: NetworkParams, ctx: ChainContext) -> int:
    """The bits of the first header of a new period (``ctx`` is its parent)."""
    if params.no_retargeting:
        return ctx.bits
    span = params.target_timespan
    actual = min(max(ctx.time - ctx.period_first_time, span // 4), span * 4)
    base = ctx.period_first_bits if params.enforce_bip94 else ctx.bits
    target = bits_to_target(base) * actual // span
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
    """The lowest header version allowed at ``height`` (BIP34, BIP66, BIP65)."""
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
    if int.from_bytes(header.hash, "little") > target:
        raise HeaderRejectedError(height, "nonce", "high-hash",
                                  "proof of work does not meet the target")
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
