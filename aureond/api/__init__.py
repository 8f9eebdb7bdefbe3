"""The HTTP API: ``/``, ``/metrics``, ``/health*`` and ``/v1/*`` over aiohttp.

The daemon implements :class:`NodeView`, reads the token with :func:`load_token`, builds
:class:`ApiSettings` (which refuses a bind beyond loopback without a token), the app
with :func:`create_app`, and serves it with :func:`start_http`.
"""

from __future__ import annotations

from aureond.api.app import HTTP_LIMITER_NAME, create_app, start_http
from aureond.api.auth import is_loopback, load_token
from aureond.api.endpoint import LIMITER_KEY, Endpoint, RequestOutcomes
from aureond.api.readiness import assess_sync
from aureond.api.settings import ApiSettings
from aureond.api.view import (
    BanInfo,
    BanView,
    HeaderInfo,
    NodeView,
    PeerInfo,
    SyncInfo,
    SyncState,
    TipInfo,
)

__all__ = [
    "HTTP_LIMITER_NAME",
    "LIMITER_KEY",
    "ApiSettings",
    "BanInfo",
    "BanView",
    "Endpoint",
    "HeaderInfo",
    "NodeView",
    "PeerInfo",
    "RequestOutcomes",
    "SyncInfo",
    "SyncState",
    "TipInfo",
    "assess_sync",
    "create_app",
    "is_loopback",
    "load_token",
    "start_http",
]
