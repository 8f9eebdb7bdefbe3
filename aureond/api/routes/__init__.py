"""The API's areas, one module each, every one exposing ``ENDPOINTS``.

``DEFAULT_AREAS`` is what ``create_app`` serves. Accounts (``/v1/accounts``) and state
snapshots (``/v1/state/snapshots``) will each be one more module here, added to the
tuple (their POST/DELETE endpoints are state-changing and so get the bearer check
beyond loopback without further work).
"""

from __future__ import annotations

from aureond.api.endpoint import Endpoint
from aureond.api.routes import chain, health, index, metrics, peers, proofs, status

__all__ = ["DEFAULT_AREAS"]

DEFAULT_AREAS: tuple[tuple[Endpoint, ...], ...] = (
    index.ENDPOINTS,
    metrics.ENDPOINTS,
    health.ENDPOINTS,
    status.ENDPOINTS,
    chain.ENDPOINTS,
    peers.ENDPOINTS,
    proofs.ENDPOINTS,
)
