"""The clock check: pass within ten minutes of the peers' median, warn beyond, never fail."""

from __future__ import annotations

import pytest

from aureond.monitoring.checks import evaluate_clock
from aureond.monitoring.health import HealthStatus
from aureond.p2p.timeoffsets import TimeOffsets


def test_no_peer_yet_passes_with_no_value() -> None:
    check = evaluate_clock(None, 0)
    assert (check.status, check.observed_value) == (HealthStatus.HEALTHY, None)


@pytest.mark.parametrize(("offset", "status", "words"), [
    (599.0, HealthStatus.HEALTHY, ""),
    (-600.0, HealthStatus.HEALTHY, ""),
    (601.0, HealthStatus.DEGRADED, "10 min behind"),
    (-3 * 3600.0, HealthStatus.DEGRADED, "3.0 h ahead of"),
])
def test_warns_past_ten_minutes_naming_the_offset(offset: float, status: HealthStatus,
                                                  words: str) -> None:
    check = evaluate_clock(offset, 3)
    assert check.status is status
    assert check.observed_value == offset
    assert words in check.output


def test_median_of_the_newest_offset_per_peer() -> None:
    offsets = TimeOffsets(max_samples=3)
    assert offsets.median() is None
    for peer, offset in (("a", 10.0), ("b", 20.0), ("a", 1000.0), ("c", 30.0)):
        offsets.add(peer, offset)
    assert len(offsets) == 3
    assert offsets.median() == 30.0  # b 20, c 30, a 1000 (its newest)
    offsets.add("d", 40.0)  # b, the oldest, goes
    assert offsets.median() == 40.0  # c 30, a 1000, d 40 -> 40
    offsets.add("e", 0.0)
    assert offsets.median() == 30.0  # c 30, d 40, e 0
    offsets.add("f", 1.0)
    assert offsets.median() == 1.0  # d 40, e 0, f 1
    with pytest.raises(ValueError, match="max_samples"):
        TimeOffsets(0)
