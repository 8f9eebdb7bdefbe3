"""One invariant under random requests: never a 5xx, and every 4xx is the JSON error shape.

Random methods, paths (near the real routes and arbitrary), headers and bodies (bytes,
arbitrary JSON, and near-valid proof requests) go through the whole pipeline of one app.
The node is healthy and synced, so no 503 is deliberate here either.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from aureond.api import ApiSettings, create_app
from aureond.clock import FakeClock
from tests.api.fakes import FakeView

Client = TestClient[web.Request, web.Application]

METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
PREFIXES = st.sampled_from(["/", "/metrics", "/health", "/health/", "/health/live",
                            "/health/ready", "/v1/", "/v1/status", "/v1/tip", "/v1/peers",
                            "/v1/headers/", "/v1/proofs/verify", "/v1/accounts/",
                            "/v1/state/snapshots/"])
SEGMENT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs")),
                  max_size=70).map(lambda s: s.replace("?", "").replace("#", ""))
HEXISH = st.text("0123456789abcdefABCDEF", min_size=0, max_size=70)
PATHS = st.one_of(
    PREFIXES,
    st.builds(lambda p, s: p + s, PREFIXES, st.one_of(SEGMENT, HEXISH,
                                                       st.integers(-10, 10**12).map(str))),
)
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.text(max_size=80), HEXISH),
    lambda inner: st.one_of(st.lists(inner, max_size=5),
                            st.dictionaries(st.text(max_size=10), inner, max_size=5)),
    max_leaves=20)
PROOF_LIKE = st.fixed_dictionaries({}, optional={
    "proof": st.one_of(HEXISH, JSON_VALUES),
    "tx_hash": st.one_of(HEXISH, JSON_VALUES),
    "merkle": st.one_of(st.lists(HEXISH, max_size=12), JSON_VALUES),
    "pos": st.one_of(st.integers(-2, 5000), JSON_VALUES),
    "block_height": st.one_of(st.integers(-2, 10**20), JSON_VALUES),
    "block_hash": st.one_of(HEXISH, JSON_VALUES),
})
BODIES = st.one_of(
    st.none(),
    st.binary(max_size=300),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    PROOF_LIKE.map(lambda v: json.dumps(v).encode()),
)
HEADERS = st.fixed_dictionaries({}, optional={
    "Content-Type": st.sampled_from(["application/json", "text/plain", "application/x-www",
                                     "application/json; charset=latin-1", ""]),
    "Accept": st.sampled_from(["*/*", "application/openmetrics-text; version=1.0.0",
                               "application/openmetrics-text; version=9", "text/html", ""]),
    "Authorization": st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
    "X-Forwarded-For": st.just("203.0.113.1"),
})


@pytest.fixture
async def fuzz_client(view: FakeView, clock: FakeClock, make_client: Any) -> Client:
    settings_ = ApiSettings(rate_burst=10**9, rate_per_second=10**9)
    client: Client = await make_client(create_app(view, CollectorRegistry(), clock, settings_))
    return client


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=METHODS, path=PATHS, body=BODIES, headers=HEADERS)
async def test_no_request_yields_a_5xx(fuzz_client: Client, method: str, path: str,
                                       body: bytes | None, headers: dict[str, str]) -> None:
    try:
        resp = await fuzz_client.request(method, path, data=body, headers=headers)
    except ValueError:
        event("refused by the client library")
        return  # a URL or header the client library itself refuses to send
    await check_answer(resp, method)


async def check_answer(resp: Any, method: str = "GET") -> None:
    event(f"status {resp.status}")
    payload = await resp.read()
    assert resp.status < 500, payload[:300]
    if resp.status >= 400 and method != "HEAD":
        error = json.loads(payload)["error"]
        assert set(error) == {"code", "message"}


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ref=st.one_of(SEGMENT, HEXISH, st.integers(-10, 10**12).map(str)))
async def test_header_refs_never_yield_a_5xx(fuzz_client: Client, ref: str) -> None:
    try:
        resp = await fuzz_client.get("/v1/headers/" + ref)
    except ValueError:
        event("refused by the client library")
        return
    await check_answer(resp)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=PROOF_LIKE)
async def test_proof_shaped_bodies_never_yield_a_5xx(fuzz_client: Client,
                                                     body: dict[str, Any]) -> None:
    resp = await fuzz_client.post("/v1/proofs/verify", data=json.dumps(body),
                                  headers={"Content-Type": "application/json"})
    await check_answer(resp, "POST")


@pytest.fixture(scope="module")
def real_proof(data_dir: Path) -> bytes:
    return (data_dir / "proofs" / "bip37" / "mainnet_0830000-1850.bin").read_bytes()


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 400), st.integers(1, 255)), min_size=1,
                      max_size=4),
       cut=st.one_of(st.none(), st.integers(0, 400)), tail=st.binary(max_size=4))
async def test_mutated_real_proofs_never_yield_a_5xx(fuzz_client: Client, real_proof: bytes,
                                                     edits: list[tuple[int, int]],
                                                     cut: int | None, tail: bytes) -> None:
    raw = bytearray(real_proof)
    for offset, mask in edits:
        if 80 <= offset < len(raw):  # keep the header: reach the tree checks
            raw[offset] ^= mask
    mutated = bytes(raw[:cut]) + tail
    resp = await fuzz_client.post("/v1/proofs/verify", data=json.dumps({"proof": mutated.hex()}),
                                  headers={"Content-Type": "application/json"})
    await check_answer(resp, "POST")
