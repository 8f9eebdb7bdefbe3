"""``POST /v1/proofs/verify``; the checks are in :mod:`aureond.api.proofs`."""

from __future__ import annotations

from aiohttp import web

from aureond.api.endpoint import METRICS_KEY, VIEW_KEY, Endpoint
from aureond.api.jsonio import json_response, read_json_object
from aureond.api.proofs import check_proof
from aureond.errors import ApiError

__all__ = ["ENDPOINTS"]


async def verify(request: web.Request) -> web.Response:
    metrics = request.app[METRICS_KEY]
    try:
        body = await read_json_object(request)
        answer = check_proof(body, request.app[VIEW_KEY])
    except ApiError as exc:
        metrics.proof("unknown-block" if exc.status == 404 else "malformed")
        raise
    metrics.proof("valid" if answer.valid else "invalid")
    return json_response(answer.to_json())


ENDPOINTS = (Endpoint("POST", "/v1/proofs/verify", verify,
                      "Check a gettxoutproof or Electrum merkle proof against our best "
                      "chain.", read_only=True),)
