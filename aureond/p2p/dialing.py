"""How long one dial of a peer may take, and how its TCP connect is retried.

A dial is one admission by the peer's circuit breaker: the TCP connect (retried by the
driver's ``Retrier`` for a refusal, a reset or a timeout, under :func:`connect_policy`),
then the version handshake (bounded by ``[p2p] handshake_timeout``). The breaker's
half-open probe is one dial, so its deadline is :func:`dial_deadline`: a probe that is
still handshaking when a shorter deadline passes would be judged a failure although the
peer is answering, and the breaker would stay open on a peer that is back.

The connect retries stay inside the manager's ``CONNECT_TIMEOUT`` (the time a dial may
stay ``connecting``): the retrier's deadline leaves room for one more full attempt.
"""

from __future__ import annotations

from aureond.p2p.manager import CONNECT_TIMEOUT
from aureond.resilience.retry import RetryPolicy

__all__ = ["CONNECT_ATTEMPTS", "CONNECT_RETRY_DELAY", "connect_phase", "connect_policy",
           "dial_deadline"]

CONNECT_ATTEMPTS = 3
"""TCP connect attempts in one dial; after them the manager's backoff takes over."""
CONNECT_RETRY_DELAY = 0.5
"""Backoff bound after the first failed attempt (doubled after the second, at most 2 s)."""
_CONNECT_RETRY_MAX_DELAY = 2.0


def connect_policy(connect_timeout: float) -> RetryPolicy:
    """The retry policy of one dial's TCP connect, each attempt ``connect_timeout`` long."""
    budget = CONNECT_TIMEOUT - connect_timeout
    if budget <= CONNECT_RETRY_DELAY:
        return RetryPolicy(max_attempts=1, deadline=None)  # no room for a second attempt
    return RetryPolicy(max_attempts=CONNECT_ATTEMPTS, initial_delay=CONNECT_RETRY_DELAY,
                       max_delay=_CONNECT_RETRY_MAX_DELAY, deadline=budget)


def connect_phase(connect_timeout: float) -> float:
    """The longest the TCP connect of one dial takes, retries included (seconds)."""
    policy = connect_policy(connect_timeout)
    if policy.deadline is None:
        return min(connect_timeout, CONNECT_TIMEOUT)
    # The retrier starts no wait that would end past its deadline; the attempt after
    # the last wait may take a whole connect_timeout more.
    return min(CONNECT_TIMEOUT, policy.deadline + connect_timeout)


def dial_deadline(connect_timeout: float, handshake_timeout: float, *,
                  tick: float = 1.0) -> float:
    """Seconds one dial may take: the connect phase, then the handshake, plus the two
    ticks (``aureond.p2p.node.TICK_INTERVAL``) at which those deadlines are checked."""
    return connect_phase(connect_timeout) + handshake_timeout + 2 * tick
