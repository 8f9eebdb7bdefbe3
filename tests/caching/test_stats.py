"""Performance statistics values."""

from __future__ import annotations

import math

import pytest

from aureond.caching import CacheStats, PerfRecorder, PerfStats


def test_empty_stats() -> None:
    stats = PerfStats()
    assert (stats.count, stats.avg, stats.hit_ratio) == (0, 0.0, 0.0)
    assert stats.min == math.inf


def test_recorder_and_value_agree() -> None:
    recorder = PerfRecorder()
    value = PerfStats()
    for seconds in (0.003, 0.001, 0.002):
        recorder.record(seconds)
        value = value.with_latency(seconds)
    recorder.hit()
    recorder.hit()
    recorder.miss()
    snapshot = recorder.snapshot()
    assert (snapshot.count, snapshot.min, snapshot.max) == (3, 0.001, 0.003)
    assert snapshot.avg == pytest.approx(0.002)
    assert snapshot.hit_ratio == pytest.approx(2 / 3)
    assert (value.count, value.min, value.max, value.total) == (
        snapshot.count, snapshot.min, snapshot.max, snapshot.total)


def test_merge() -> None:
    a = PerfStats(2, 0.3, 0.1, 0.2, hits=1, misses=1)
    b = PerfStats(1, 0.05, 0.05, 0.05, hits=3)
    merged = a.merge(b)
    assert merged == PerfStats(3, 0.35, 0.05, 0.2, 4, 1)
    assert PerfStats().merge(a) == a


def test_negative_latency_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        PerfRecorder().record(-1.0)
    with pytest.raises(ValueError, match="negative"):
        PerfStats().with_latency(-1.0)


def test_cache_stats_ratio() -> None:
    assert CacheStats(1, 10, hits=3, misses=1, evictions=0).hit_ratio == 0.75
    assert CacheStats(0, 10, 0, 0, 0).hit_ratio == 0.0
