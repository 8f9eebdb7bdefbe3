"""The node's standard component checks, as pure functions and provider factories.

The dashboard does not know the node: the service registers providers that read its
state and call these functions, so the rules live here and are tested here.

================================  ==========================================================
key                               rule
================================  ==========================================================
``sync:blocksBehind``             pass when the tip is within ``max_behind`` (1) block of the
                                  best peer height and not older than ``stale_after``; warn
                                  while syncing or on a stale tip (initial sync is a state of
                                  its own, not a failure); warn when no peer height is known
``peers:connections``             fail with no connected peer, pass with at least ``minimum``
                                  (1), warn in between
``store:writable``                pass when the store is open and writable, else fail
``errors:rate``                   :class:`~aureond.monitoring.health.ErrorRatePolicy` on the
                                  windowed error rate; pass without an observed value
                                  while the window holds too few operations to judge
``event_loop:lag``                pass below ``warn_at`` (0.1 s) recent max lag, warn from it,
                                  fail from ``fail_at`` (1 s)
``clock:offset``                  pass until a peer's time is known and while the median
                                  offset of peers' clocks from ours is within ``warn_at``
                                  (600 s, Core's threshold); warn beyond it, naming the
                                  offset; never fail (a wrong clock stops nothing)
================================  ==========================================================
"""

from __future__ import annotations

import math

from aureond.errors import ConfigError
from aureond.monitoring.error_rate import ErrorRateTracker
from aureond.monitoring.health import CheckProvider, ComponentCheck, ErrorRatePolicy, HealthStatus
from aureond.monitoring.loop_lag import LoopLagMonitor

__all__ = [
    "DEFAULT_LAG_FAIL_AT",
    "DEFAULT_LAG_WARN_AT",
    "DEFAULT_STALE_AFTER",
    "DEFAULT_CLOCK_WARN_AT",
    "error_rate_provider",
    "evaluate_clock",
    "evaluate_error_rate",
    "evaluate_loop_lag",
    "evaluate_peers",
    "evaluate_store",
    "evaluate_sync",
    "judged_error_rate",
    "loop_lag_provider",
]

DEFAULT_STALE_AFTER = 2 * 60 * 60.0  # a tip older than 2 h is suspect on any PoW chain
DEFAULT_LAG_WARN_AT = 0.1
DEFAULT_LAG_FAIL_AT = 1.0
DEFAULT_CLOCK_WARN_AT = 600.0


def evaluate_clock(offset: float | None, peers: int, *,
                   warn_at: float = DEFAULT_CLOCK_WARN_AT) -> ComponentCheck:
    """Our clock against our peers': ``offset`` is their median time minus ours."""
    if offset is None:
        return ComponentCheck(HealthStatus.HEALTHY, None, "s")
    value = round(offset, 3)
    if abs(offset) > warn_at:
        way = "behind" if offset > 0 else "ahead of"
        size = (f"{abs(offset) / 3600:.1f} h" if abs(offset) >= 3600
                else f"{abs(offset) / 60:.0f} min")
        return ComponentCheck(HealthStatus.DEGRADED, value, "s",
                              f"this machine's clock is {size} {way} the median "
                              f"of {peers} peer(s); check NTP (headers more than 2 h ahead "
                              "of our clock are not accepted until it catches up)")
    return ComponentCheck(HealthStatus.HEALTHY, value, "s")


def evaluate_sync(tip_height: int, best_peer_height: int | None, tip_age_seconds: float, *,
                  max_behind: int = 1,
                  stale_after: float = DEFAULT_STALE_AFTER) -> ComponentCheck:
    """Sync state from our tip, the best height peers announced and the tip's age."""
    if best_peer_height is None:
        return ComponentCheck(HealthStatus.DEGRADED, None, "blocks",
                              f"no peer has announced a height yet (tip {tip_height})")
    behind = max(0, best_peer_height - tip_height)
    if behind > max_behind:
        return ComponentCheck(HealthStatus.DEGRADED, behind, "blocks",
                              f"syncing: tip {tip_height}, best peer {best_peer_height}")
    if tip_age_seconds > stale_after:
        return ComponentCheck(HealthStatus.DEGRADED, behind, "blocks",
                              f"stale tip: last header {tip_age_seconds:.0f} s old")
    return ComponentCheck(HealthStatus.HEALTHY, behind, "blocks")


def evaluate_peers(connected: int, *, minimum: int = 1) -> ComponentCheck:
    """Peer connections: none is a failure, fewer than ``minimum`` a warning."""
    if connected <= 0:
        return ComponentCheck(HealthStatus.UNHEALTHY, 0, "connections",
                              "no connected peer")
    if connected < minimum:
        return ComponentCheck(HealthStatus.DEGRADED, connected, "connections",
                              f"{connected} connected peer(s), want at least {minimum}")
    return ComponentCheck(HealthStatus.HEALTHY, connected, "connections")


def evaluate_store(writable: bool, detail: str = "") -> ComponentCheck:
    """The header store: open and writable, or failed with ``detail``."""
    if writable:
        return ComponentCheck(HealthStatus.HEALTHY, True, "boolean")
    return ComponentCheck(HealthStatus.UNHEALTHY, False, "boolean",
                          detail or "store is not writable")


def evaluate_error_rate(error_rate: float, samples: int,
                        policy: ErrorRatePolicy) -> ComponentCheck:
    """The windowed error rate judged by ``policy``; observed value is the ratio, none
    below ``min_samples`` (a rate of 3 operations is not shown passing as if judged)."""
    if samples < policy.min_samples:
        return ComponentCheck(HealthStatus.HEALTHY, None, "ratio")
    status = policy.classify(error_rate, samples)
    output = ""
    if status is not HealthStatus.HEALTHY:
        output = f"{error_rate:.2%} of {samples} operations failed in the window"
    return ComponentCheck(status, error_rate, "ratio", output)


def error_rate_provider(tracker: ErrorRateTracker,
                        policy: ErrorRatePolicy | None = None) -> CheckProvider:
    """A provider for ``errors:rate`` reading ``tracker``'s window."""
    chosen = policy or ErrorRatePolicy()

    def provide() -> ComponentCheck:
        window = tracker.window()
        return evaluate_error_rate(window.error_rate, window.total, chosen)

    return provide


def judged_error_rate(tracker: ErrorRateTracker,
                      policy: ErrorRatePolicy | None = None) -> float:
    """The windowed error rate as ``errors:rate`` judges it; NaN (unknown) while the
    window holds fewer than ``min_samples`` operations. ``aureond_error_ratio`` exports
    this, so alerts on it fire exactly when the check warns or fails."""
    window = tracker.window()
    if window.total < (policy or ErrorRatePolicy()).min_samples:
        return math.nan
    return window.error_rate


def evaluate_loop_lag(lag_seconds: float, *, warn_at: float = DEFAULT_LAG_WARN_AT,
                      fail_at: float = DEFAULT_LAG_FAIL_AT) -> ComponentCheck:
    """Event-loop lag: pass below ``warn_at``, warn from it, fail from ``fail_at``."""
    if not 0 < warn_at <= fail_at:
        raise ConfigError("warn_at", f"need 0 < warn_at <= fail_at, got {warn_at}, {fail_at}")
    if lag_seconds >= fail_at:
        return ComponentCheck(HealthStatus.UNHEALTHY, lag_seconds, "s",
                              f"event loop {lag_seconds:.3f} s late (fail at {fail_at} s)")
    if lag_seconds >= warn_at:
        return ComponentCheck(HealthStatus.DEGRADED, lag_seconds, "s",
                              f"event loop {lag_seconds:.3f} s late (warn at {warn_at} s)")
    return ComponentCheck(HealthStatus.HEALTHY, lag_seconds, "s")


def loop_lag_provider(monitor: LoopLagMonitor, *, warn_at: float = DEFAULT_LAG_WARN_AT,
                      fail_at: float = DEFAULT_LAG_FAIL_AT) -> CheckProvider:
    """A provider for ``event_loop:lag`` reading the monitor's recent maximum."""
    evaluate_loop_lag(0.0, warn_at=warn_at, fail_at=fail_at)  # validate now, not per call

    def provide() -> ComponentCheck:
        return evaluate_loop_lag(monitor.recent_max, warn_at=warn_at, fail_at=fail_at)

    return provide
