"""Every route's answer on the fake node over the real mainnet header run."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.parser import text_string_to_metric_families

from aureond.api import PeerInfo, SyncInfo, SyncState, create_app
from aureond.chain.hashing import hash_to_display
from aureond.chain.target import work_from_bits
from aureond.monitoring.error_rate import ErrorRateTracker
from aureond.monitoring.health import ComponentCheck, HealthReport, HealthStatus
from tests.api.fakes import BLOCK_830000, RUN_START, STALE_HEIGHT, FakeView, RealChain, peer

Client = TestClient[web.Request, web.Application]

HEADER_830000 = ("0080ee2578a3104f1a64159e5a953a4a1015795a1e66894bf7c00200000000000000000070"
                 "adb2fd1ac9b017ea1a2e66457af0514dfbae502efd20473e6e77c2d4cf568a410fc9655dba"
                 "0317403497a1")
TIP_HEIGHT = 830592


async def get_json(client: Client, path: str, status: int = 200) -> Any:
    resp = await client.get(path)
    assert resp.status == status, await resp.text()
    return await resp.json(content_type=None)


async def test_index_lists_every_endpoint(client: Client) -> None:
    body = await get_json(client, "/")
    listed = {(e["method"], e["path"]) for e in body["endpoints"]}
    assert listed == {
        ("GET", "/"), ("GET", "/metrics"), ("GET", "/health"), ("GET", "/health/live"),
        ("GET", "/health/ready"), ("GET", "/v1/status"), ("GET", "/v1/tip"),
        ("GET", "/v1/headers/{ref}"), ("GET", "/v1/peers"), ("POST", "/v1/proofs/verify"),
    }
    assert body["network"] == "mainnet"
    assert not any(e["auth"] for e in body["endpoints"])  # loopback: everything open


async def test_tip_answers_height_display_hash_and_chainwork(client: Client,
                                                             real_chain: RealChain) -> None:
    body = await get_json(client, "/v1/tip")
    tip = real_chain.headers[-1]
    assert body["height"] == TIP_HEIGHT
    assert body["hash"] == tip.hash_hex
    assert body["hash"].startswith("0000000000000000000")  # display order
    assert int(body["chainwork"], 16) == real_chain.chainwork[-1]
    assert len(body["chainwork"]) == 64
    assert body["time"] == tip.time


async def test_status_has_tip_sync_peers_uptime_version(client: Client, view: FakeView) -> None:
    view.peer_list = [peer(0), peer(1, state="connecting"),
                      peer(2, state="disconnected", ban_reason="bad-headers",
                           ban_expires=1_800_000_000.0)]
    body = await get_json(client, "/v1/status")
    assert body["network"] == "mainnet"
    assert body["version"] == "0.1.0-test"
    assert body["uptime_seconds"] == 1234.5
    assert body["tip"]["height"] == TIP_HEIGHT
    assert body["best_peer_height"] == 830592
    assert body["sync"] == {"state": "synced", "progress": 1.0, "ready": True, "reasons": []}
    assert body["peers"] == {"total": 3, "banned": 1, "recovering": [],
                             "by_state": {"connected": 1, "connecting": 1, "disconnected": 1}}


@pytest.mark.parametrize("ref", ["830000", BLOCK_830000, BLOCK_830000.upper(), "0830000"])
async def test_header_by_height_or_hash(client: Client, ref: str) -> None:
    body = await get_json(client, f"/v1/headers/{ref}")
    assert body["height"] == 830000
    assert body["hash"] == BLOCK_830000
    assert body["header"] == HEADER_830000
    assert body["confirmations"] == TIP_HEIGHT - 830000 + 1
    assert body["on_best_chain"] is True
    assert body["fields"] == {
        "version": 0x25EE8000, "bits": "1703ba5d", "time": 1707675457, "nonce": 0xA1973440,
        "prev_hash": "00000000000000000002c0f74b89661e5a7915104a3a955a9e15641a4f10a378",
        "merkle_root": "8a56cfd4c2776e3e4720fd2e50aefb4d51f07a45662e1aea17b0c91afdb2ad70",
    }


async def test_tip_header_has_one_confirmation(client: Client) -> None:
    body = await get_json(client, f"/v1/headers/{TIP_HEIGHT}")
    assert body["confirmations"] == 1


async def test_side_branch_header_is_found_with_no_confirmations(
        client: Client, real_chain: RealChain) -> None:
    body = await get_json(client, f"/v1/headers/{real_chain.stale.hash_hex}")
    assert body["height"] == STALE_HEIGHT
    assert body["on_best_chain"] is False
    assert body["confirmations"] == 0


@pytest.mark.parametrize(("ref", "code"), [
    ("-1", "bad_header_ref"), ("12a", "bad_header_ref"), ("0x10", "bad_header_ref"),
    ("1.5", "bad_header_ref"), ("٣", "bad_header_ref"),  # an Arabic-Indic digit
    ("a" * 63, "bad_header_ref"), ("a" * 65, "bad_header_ref"), ("g" * 64, "bad_header_ref"),
    ("99999999999", "bad_header_ref"), ("4294967296", "bad_height"),
])
async def test_bad_header_ref_is_400(client: Client, view: FakeView, ref: str, code: str) -> None:
    body = await get_json(client, f"/v1/headers/{ref}", 400)
    assert body["error"]["code"] == code
    assert view.lookups == []  # refused before asking the node


@pytest.mark.parametrize("ref", [str(RUN_START - 1), str(TIP_HEIGHT + 1), "0", "2147483647",
                                 "ab" * 32, "0" * 64])
async def test_unknown_header_is_404(client: Client, ref: str) -> None:
    body = await get_json(client, f"/v1/headers/{ref}", 404)
    assert body["error"]["code"] == "unknown_header"


async def test_64_decimal_digits_are_a_hash_not_a_height(client: Client,
                                                          view: FakeView) -> None:
    await get_json(client, "/v1/headers/" + "1" * 64, 404)
    assert view.lookups == [bytes.fromhex("1" * 64)]


async def test_peers_lists_slots_and_bans_without_secrets(client: Client, view: FakeView) -> None:
    view.peer_list = [peer(0), PeerInfo(3, "198.51.100.7:8333", "disconnected", "open", -5.0,
                                        ban_reason="invalid-header",
                                        ban_expires=1_700_086_400.0)]
    body = await get_json(client, "/v1/peers")
    assert body["summary"]["total"] == 2
    banned = body["peers"][1]
    assert banned == {"slot": 3, "address": "198.51.100.7:8333", "state": "disconnected",
                      "breaker": "open", "score": -5.0, "ban_reason": "invalid-header",
                      "ban_expires": "2023-11-15T22:13:20.000Z", "user_agent": None,
                      "start_height": None, "connected_since": None, "recovery": None}
    assert body["peers"][0]["connected_since"] == "2023-11-14T22:13:20.000Z"


async def test_metrics_parse_and_count_requests_by_route_template(client: Client) -> None:
    for ref in ("830000", "830001", "nope"):
        await client.get(f"/v1/headers/{ref}")
    await client.get("/no/such/path")
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(await resp.text())}
    requests = {(s.labels["route"], s.labels["status_class"]): s.value
                for s in families["aureond_http_requests"].samples
                if s.name.endswith("_total")}
    assert requests[("/v1/headers/{ref}", "2xx")] == 2
    assert requests[("/v1/headers/{ref}", "4xx")] == 1
    assert requests[("unmatched", "4xx")] == 1
    routes = {s.labels["route"] for s in families["aureond_http_request_duration_seconds"].samples}
    assert routes == {"/v1/headers/{ref}", "unmatched"}  # never the raw path
    assert "aureond_proofs_verified" in families


async def test_metrics_in_openmetrics_when_asked(client: Client) -> None:
    resp = await client.get("/metrics", headers={
        "Accept": "application/openmetrics-text; version=1.0.0; charset=utf-8"})
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
    text = await resp.text()
    assert text.rstrip().endswith("# EOF")


async def test_metrics_expose_the_given_registry(view: FakeView, clock: Any,
                                                 make_client: Any) -> None:
    registry = CollectorRegistry()
    Gauge("aureond_header_height", "Height.", registry=registry).set(830592)
    client = await make_client(create_app(view, registry, clock))
    text = await (await client.get("/metrics")).text()
    assert "aureond_header_height 830592.0" in text


def checks_of(body: dict[str, Any]) -> dict[str, str]:
    return {key: entries[0]["status"] for key, entries in body["checks"].items()}


async def test_health_pass_is_200_health_json(client: Client) -> None:
    resp = await client.get("/health")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("application/health+json")
    body = await resp.json(content_type=None)
    assert body["status"] == "pass"
    assert checks_of(body) == {"sync:blocksBehind": "pass", "peers:connections": "pass",
                               "store:writable": "pass"}
    entry = body["checks"]["sync:blocksBehind"][0]
    assert entry["observedValue"] == 0
    assert entry["observedUnit"] == "blocks"
    assert entry["time"].endswith("Z")
    report = HealthReport.from_health_json(body)  # the monitoring layer reads it back
    assert report.status is HealthStatus.HEALTHY


async def test_health_warn_while_syncing_is_still_200(client: Client, view: FakeView) -> None:
    view.best_peer = TIP_HEIGHT + 500
    resp = await client.get("/health")
    body = await resp.json(content_type=None)
    assert resp.status == 200
    assert body["status"] == "warn"
    assert body["checks"]["sync:blocksBehind"][0]["observedValue"] == 500
    assert "syncing" in body["checks"]["sync:blocksBehind"][0]["output"]


@pytest.mark.parametrize("breakage", ["store", "peers", "lag"])
async def test_health_fail_is_503(client: Client, view: FakeView, breakage: str) -> None:
    if breakage == "store":
        view.store_writable = False
    elif breakage == "peers":
        view.peer_list = []
    else:
        view.extra_checks["event_loop:lag"] = ComponentCheck(
            HealthStatus.UNHEALTHY, 1.5, "s", "event loop 1.500 s late")
    resp = await client.get("/health")
    body = await resp.json(content_type=None)
    assert resp.status == 503
    assert body["status"] == "fail"
    assert "fail" in checks_of(body).values()


async def test_health_survives_a_non_finite_observation(client: Client, view: FakeView) -> None:
    view.extra_checks["errors:rate"] = ComponentCheck(HealthStatus.DEGRADED, float("nan"),
                                                      "ratio", "no samples")
    resp = await client.get("/health")
    assert resp.status == 200
    text = await resp.text()
    assert "NaN" not in text
    body = json.loads(text)
    assert body["checks"]["errors:rate"][0]["observedValue"] is None


async def test_live_is_200(client: Client) -> None:
    assert await get_json(client, "/health/live") == {"status": "alive"}


async def test_ready_when_synced(client: Client) -> None:
    body = await get_json(client, "/health/ready")
    assert body["status"] == "ready"
    assert body["state"] == "synced"


@pytest.mark.parametrize("sync", [
    SyncInfo(SyncState.INITIAL_SYNC, 0.42, ("tip 100 is 138 blocks behind",)),
    SyncInfo(SyncState.CONNECTING, None, ("no connected peer",)),
    SyncInfo(SyncState.STALLED, 1.0, ("tip is 9000 s old, stale after 7200 s",)),
])
async def test_not_ready_is_503_with_state_progress_and_reasons(
        client: Client, view: FakeView, sync: SyncInfo) -> None:
    view.sync_info = sync
    body = await get_json(client, "/health/ready", 503)
    assert body == {"status": "not_ready", "state": sync.state.value,
                    "progress": sync.progress, "ready": False, "reasons": list(sync.reasons)}


async def test_deliberate_4xx_and_503_are_not_node_errors(
        view: FakeView, clock: Any, make_client: Any) -> None:
    tracker = ErrorRateTracker(clock)
    view.sync_info = SyncInfo(SyncState.INITIAL_SYNC, 0.5, ("behind",))
    client = await make_client(create_app(view, CollectorRegistry(), clock, outcomes=tracker))
    for path in ("/v1/headers/xyz", "/v1/headers/1", "/health/ready", "/nope", "/v1/tip"):
        await client.get(path)
    await client.post("/v1/proofs/verify", data=b"{", headers={"Content-Type": "application/json"})
    assert (tracker.successes, tracker.errors) == (6, 0)


def test_real_chain_fixture_is_the_real_run(real_chain: RealChain) -> None:
    # Sanity of the fake's data: header 830000 is the real block, linkage holds.
    assert hash_to_display(real_chain.headers[830000 - RUN_START].hash) == BLOCK_830000
    assert all(b.prev_hash == a.hash for a, b in zip(real_chain.headers, real_chain.headers[1:],
                                                      strict=False))
    assert real_chain.chainwork[1] - real_chain.chainwork[0] == work_from_bits(
        real_chain.headers[1].bits)
