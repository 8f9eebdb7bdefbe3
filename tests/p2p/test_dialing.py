"""One dial's time budget: the connect retries stay inside the manager's CONNECT_TIMEOUT,
and a breaker probe's deadline covers the whole dial."""

from __future__ import annotations

import pytest

from aureond.p2p.dialing import connect_phase, connect_policy, dial_deadline
from aureond.p2p.manager import CONNECT_TIMEOUT


@pytest.mark.parametrize("connect_timeout", [0.5, 2.0, 10.0, 29.0, 30.0, 45.0])
def test_connect_retries_end_before_the_manager_gives_up(connect_timeout: float) -> None:
    policy = connect_policy(connect_timeout)
    # Worst case: every attempt takes its whole timeout and every wait its bound.
    elapsed = 0.0
    for failures in range(1, policy.max_attempts + 1):
        elapsed += connect_timeout
        if failures == policy.max_attempts:
            break
        wait = policy.bound(failures)
        if policy.deadline is not None and elapsed + wait > policy.deadline:
            break
        elapsed += wait
    assert min(elapsed, CONNECT_TIMEOUT) <= connect_phase(connect_timeout) <= CONNECT_TIMEOUT


def test_a_probe_has_the_time_of_a_connect_and_a_handshake() -> None:
    deadline = dial_deadline(10.0, 60.0)
    assert deadline >= connect_phase(10.0) + 60.0
    assert deadline > 10.0 + 60.0  # the old fixed 10 s probe could not hold a handshake
