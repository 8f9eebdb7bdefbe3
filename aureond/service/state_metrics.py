"""The state layer's Prometheus metrics (:class:`StateMetrics`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["StateMetrics"]


class StateMetrics:
    """The state layer's Prometheus metrics (no label carries user data)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.height = Gauge("aureond_state_height",
                            "Height of the state ledger's tip (last block scanned).",
                            registry=registry)
        self.remaining = Gauge("aureond_state_rescan_remaining_blocks",
                               "Blocks the ledger and any rescan still have to scan to "
                               "reach the header tip.", registry=registry)
        self.accounts = Gauge("aureond_state_accounts", "Watched accounts.",
                              registry=registry)
        self.scripts = Gauge("aureond_state_watched_scripts",
                             "Distinct scripts the accounts watch.", registry=registry)
        self.blocks = Counter("aureond_state_blocks_scanned",
                              "Full blocks scanned for the watched scripts.",
                              registry=registry)
        self.undone = Counter("aureond_state_blocks_undone",
                              "Ledger blocks undone by reorganisations.", registry=registry)
        self.snapshots = Counter("aureond_state_snapshots", "State snapshots written.",
                                 ["result"], registry=registry)
        self.snapshot_height = Gauge("aureond_state_snapshot_height",
                                     "Anchor height of the newest snapshot written.",
                                     registry=registry)
        self.snapshot_bytes = Gauge("aureond_state_snapshot_size_bytes",
                                    "Compressed size of the newest snapshot written.",
                                    registry=registry)
        for result in ("ok", "failed"):
            self.snapshots.labels(result)

