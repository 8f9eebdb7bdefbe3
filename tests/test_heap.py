"""freeze_heap: what is alive at start-up leaves the collector's generations."""

from __future__ import annotations

import gc

from aureond.heap import freeze_heap


def test_freeze_moves_live_objects_out_of_the_generations() -> None:
    marker = [object() for _ in range(1000)]
    try:
        frozen = freeze_heap()
        assert frozen == gc.get_freeze_count()
        assert frozen >= len(marker)
        assert sum(gc.get_count()) < 100  # young generations start (nearly) empty
        assert not any(o is marker for o in gc.get_objects())  # frozen: not tracked
    finally:
        gc.unfreeze()
    assert any(o is marker for o in gc.get_objects())
