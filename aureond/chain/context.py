"""The constant-size context a header is validated against.

Everything a contextual rule needs from the ancestors of a new header fits in one small
frozen value, advanced header by header:

* the tip (height, hash, time, bits, cumulative work);
* the timestamps of the last 11 headers (median-time-past);
* the time and bits of the first header of the current retarget period (the retarget
  and BIP94 base);
* the "walk-back" bits: the bits of the latest header that is at a period boundary or
  is not a minimum-difficulty header (testnet3/testnet4 20-minute rule);
* the time of the header just before the period's first header (Litecoin's retarget
  measures from it), when known.

A validation run that starts after genesis starts from a trusted *anchor*. For
networks that retarget, the anchor must sit at a period boundary (height divisible by
the interval), where the period's first header is the anchor itself. Its
median-time-past window holds the timestamps that are known: the anchor's, plus the
ones of the 10 headers before it when given. Without them the first headers after the
anchor are checked against the lowest median the missing times allow, so an anchor
never refuses a chain that the full rules accept. A ``litecoin``
retarget also needs the time of the header before the anchor: give at least that one
earlier time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aureond.chain.header import BlockHeader
from aureond.chain.params import NetworkParams
from aureond.chain.target import work_from_bits
from aureond.errors import ConfigError

__all__ = ["MTP_WINDOW", "ChainContext", "HeaderFacts", "anchor_context", "genesis_context"]

MTP_WINDOW = 11


class HeaderFacts(Protocol):
    """What advancing a context reads from a header: a :class:`BlockHeader`, or the
    header tree's raw-backed node (which need not be parsed for it)."""

    @property
    def hash(self) -> bytes: ...

    @property
    def time(self) -> int: ...

    @property
    def bits(self) -> int: ...


@dataclass(frozen=True, slots=True)
class ChainContext:
    height: int
    hash: bytes
    time: int
    bits: int
    chainwork: int
    recent_times: tuple[int, ...]
    period_first_time: int
    period_first_bits: int
    walk_bits: int
    before_period_time: int | None = None

    def median_time_past(self) -> int:
        """The median of the last 11 timestamps (fewer near genesis), or, when some of
        them are unknown (the headers just after an anchor given without the times
        before it), the lowest median those unknown times allow: a header is then only
        refused where the full rule would refuse it too."""
        ordered = sorted(self.recent_times)
        window = min(MTP_WINDOW, self.height + 1)
        i = window // 2 - (window - len(ordered))
        return ordered[i] if i >= 0 else -1

    def time_before_period(self, params: NetworkParams) -> int | None:
        """The time of the header just before the first header of this context's period
        (``None`` when unknown). A context built at a boundary without this field still
        knows it when its parent's time is in ``recent_times``."""
        if self.before_period_time is not None:
            return self.before_period_time
        if (self.height and self.height % params.retarget_interval == 0
                and len(self.recent_times) >= 2):
            return self.recent_times[-2]
        return None

    def advance(self, params: NetworkParams, header: HeaderFacts, work: int) -> ChainContext:
        """The context after ``header`` (already validated) is appended."""
        height = self.height + 1
        at_boundary = height % params.retarget_interval == 0
        walk = (header.bits if at_boundary or header.bits != params.pow_limit_bits
                else self.walk_bits)
        return ChainContext(
            height=height,
            hash=header.hash,
            time=header.time,
            bits=header.bits,
            chainwork=self.chainwork + work,
            recent_times=(*self.recent_times, header.time)[-MTP_WINDOW:],
            period_first_time=header.time if at_boundary else self.period_first_time,
            period_first_bits=header.bits if at_boundary else self.period_first_bits,
            walk_bits=walk,
            before_period_time=self.time if at_boundary else self.time_before_period(params),
        )


def genesis_context(params: NetworkParams) -> ChainContext:
    g = params.genesis
    return ChainContext(0, g.hash, g.time, g.bits, work_from_bits(g.bits), (g.time,),
                        g.time, g.bits, g.bits)


def anchor_context(params: NetworkParams, anchor: BlockHeader, height: int,
                   chainwork: int | None = None,
                   earlier_times: tuple[int, ...] = ()) -> ChainContext:
    """A context starting at a trusted header ``anchor`` at ``height``.

    ``chainwork`` is the total work up to and including the anchor when known (0 counts
    only work from the anchor on). ``earlier_times`` are the timestamps of up to 10
    headers before the anchor, oldest first, for a complete median-time-past window.
    """
    if height == 0:
        if anchor.hash != params.genesis_hash:
            raise ConfigError("anchor", f"height 0 must be the {params.name} genesis")
        return genesis_context(params)
    if height < 0:
        raise ConfigError("anchor_height", "must not be negative")
    if not params.no_retargeting and height % params.retarget_interval:
        raise ConfigError(
            "anchor_height",
            f"{height} is not a retarget boundary of {params.name}; an anchor must be at "
            f"a multiple of {params.retarget_interval} so the next retarget can be checked")
    cp = params.checkpoint_map.get(height)
    if cp is not None and cp != anchor.hash:
        raise ConfigError("anchor", f"does not match the {params.name} checkpoint at "
                          f"height {height}")
    if (params.retarget_variant == "litecoin" and not params.no_retargeting
            and not earlier_times):
        raise ConfigError(
            "anchor", f"{params.name} measures each retarget from the header before the "
            "period: give the time of the header before the anchor, or start from genesis")
    work = work_from_bits(anchor.bits) if chainwork is None else chainwork
    times = (*earlier_times[-(MTP_WINDOW - 1):], anchor.time)
    return ChainContext(height, anchor.hash, anchor.time, anchor.bits, work, times,
                        anchor.time, anchor.bits, anchor.bits,
                        earlier_times[-1] if earlier_times else None)
