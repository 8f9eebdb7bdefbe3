"""Block locator spacing for ``getheaders``, as Bitcoin Core builds it."""

from __future__ import annotations

__all__ = ["locator_heights"]


def locator_heights(tip: int, base: int) -> list[int]:
    """Heights for a locator, spaced as Bitcoin Core's ``LocatorEntries``: the tip and
    the 11 below it one by one, then steps that double, always ending with ``base``
    (genesis, or the anchor of a store that starts at a checkpoint)."""
    if tip < base:
        raise ValueError(f"tip {tip} is below the base {base}")
    heights: list[int] = []
    height, step = tip, 1
    while height > base:
        heights.append(height)
        height -= step
        if len(heights) > 10:
            step *= 2
    heights.append(base)
    return heights
