"""Locator spacing, table-driven."""

from __future__ import annotations

import pytest

from aureond.chain.locator import locator_heights


@pytest.mark.parametrize(("tip", "base", "expected"), [
    (0, 0, [0]),
    (1, 0, [1, 0]),
    (10, 0, [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]),
    (11, 0, [11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]),
    (12, 0, [12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]),
    (30, 0, [30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 17, 13, 5, 0]),
    (822540, 822528, list(range(822540, 822527, -1))),
    (822600, 822528, [*range(822600, 822588, -1), 822587, 822583, 822575, 822559, 822528]),
])
def test_locator_heights(tip: int, base: int, expected: list[int]) -> None:
    assert locator_heights(tip, base) == expected


def test_locator_is_logarithmic_and_ends_at_base() -> None:
    heights = locator_heights(1_000_000, 0)
    assert len(heights) < 40
    assert heights[-1] == 0
    assert heights == sorted(heights, reverse=True)


def test_tip_below_base_is_refused() -> None:
    with pytest.raises(ValueError, match="below the base"):
        locator_heights(5, 10)
