"""Production monitoring: trackers, health dashboard, status report, Prometheus metrics.

Every piece takes a :class:`~aureond.clock.Clock` (or a Prometheus registry) from the
caller; nothing here reads the real clock or touches global state.
"""
