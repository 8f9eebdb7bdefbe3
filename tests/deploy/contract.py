"""The metric names of DESIGN.md "Metrics" that the deployment files may use.

Histograms are listed by base name and expose ``_bucket``, ``_count`` and ``_sum``.
``process_*`` and ``python_gc_*`` come from prometheus_client's collectors, ``up`` from
Prometheus itself.
"""

from __future__ import annotations

__all__ = [
    "CLIENT_PREFIXES",
    "DESIGN_SERIES",
    "HISTOGRAMS",
    "PROMETHEUS_SERIES",
    "is_design_series",
]

_PLAIN = frozenset({
    "aureond_build_info",
    "aureond_header_height",
    "aureond_best_peer_height",
    "aureond_tip_timestamp_seconds",
    "aureond_headers_processed_total",
    "aureond_header_rejects_total",
    "aureond_reorgs_total",
    "aureond_peers",
    "aureond_peer_disconnects_total",
    "aureond_circuit_breaker_state",
    "aureond_circuit_breaker_transitions_total",
    "aureond_rate_limited_total",
    "aureond_retries_total",
    "aureond_cache_requests_total",
    "aureond_batch_flushes_total",
    "aureond_proofs_verified_total",
    "aureond_health_status",
    "aureond_http_requests_total",
    "aureond_error_ratio",
    "aureond_event_loop_lag_seconds",
    "aureond_store_errors_total",
    "aureond_clock_offset_seconds",
})

HISTOGRAMS = frozenset({
    "aureond_reorg_depth",
    "aureond_peer_request_duration_seconds",
    "aureond_http_request_duration_seconds",
})

DESIGN_SERIES = _PLAIN | frozenset(
    f"{base}{suffix}" for base in HISTOGRAMS for suffix in ("_bucket", "_count", "_sum"))

CLIENT_PREFIXES = ("process_", "python_gc_")

PROMETHEUS_SERIES = frozenset({"up"})


def is_design_series(name: str) -> bool:
    """A series the daemon is specified to export (its own or the client's collectors)."""
    return name in DESIGN_SERIES or name.startswith(CLIENT_PREFIXES)
