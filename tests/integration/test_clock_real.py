"""``aureond run`` next to a peer whose clock is three hours off ours: the offset is on
/metrics and /health warns naming it; nothing is banned."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aureond.chain.params import REGTEST
from aureond.stress.fakepeer import Behaviour
from tests.integration.daemon import DaemonProcess, wait_for
from tests.integration.fakepeers import PeerThread
from tests.integration.test_reorg_real import metric_samples, metric_value

SKEW = 3 * 3600


@pytest.fixture(params=[SKEW, -SKEW], ids=["peer-ahead", "peer-behind"])
def skewed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[int,
                                                                          DaemonProcess]]:
    with PeerThread(REGTEST, Behaviour.HONEST, clock_offset=request.param) as fake, \
            DaemonProcess(tmp_path / "aureond", network="regtest",
                          connect=[fake.address]) as daemon:
        daemon.start()
        yield request.param, daemon


def _clock_check(daemon: DaemonProcess) -> dict[str, Any] | None:
    got = daemon.get("/health")
    if got is None or "clock:offset" not in got[1].get("checks", {}):
        return None
    check: dict[str, Any] = got[1]["checks"]["clock:offset"][0]
    return check if check.get("observedValue") is not None else None


def test_a_peer_three_hours_off_is_reported_not_punished(
        skewed: tuple[int, DaemonProcess]) -> None:
    skew, daemon = skewed
    check = wait_for(lambda: _clock_check(daemon), 20, "a clock offset on /health")
    assert check["status"] == "warn"
    assert abs(check["observedValue"] - skew) < 5
    assert ("behind" if skew > 0 else "ahead of") in check["output"]
    assert "3.0 h" in check["output"]
    samples = metric_samples(daemon)
    assert abs(metric_value(samples, "aureond_clock_offset_seconds") - skew) < 5
    assert not [line for line in daemon.log_lines()
                if line.get("event") in {"p2p.banned", "p2p.misbehaved", "p2p.disconnect"}]
    assert daemon.terminate() == 0
