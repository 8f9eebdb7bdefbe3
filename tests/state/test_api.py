"""The accounts and snapshot endpoints over a fake state view of real block 830000."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from aureond.api import create_app
from aureond.api.routes import DEFAULT_AREAS
from aureond.api.routes import accounts as accounts_routes
from aureond.api.routes import state as state_routes
from aureond.chain.header import BlockHeader
from aureond.chain.proof import parse_electrum_proof, verify_electrum
from aureond.clock import FakeClock
from aureond.state.addresses import address_for_script
from aureond.state.networks import ADDRESS_PARAMS
from tests.api.fakes import FakeView, load_chain
from tests.state.fakes import FakeStateView
from tests.state.helpers import KINDS, load_block
from tests.state.test_real_blocks import spent_script_of_kind

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def setup(data_dir: Path, tmp_path: Path) -> AsyncIterator[tuple[Client, FakeStateView]]:
    chain = load_chain(data_dir)
    clock = FakeClock(start=1_000.0, wall_offset=chain.headers[-1].time)
    real = load_block(data_dir, 830000)
    state = FakeStateView(tmp_path, "mainnet", real.block, 830000)
    app = create_app(FakeView(chain, clock), CollectorRegistry(), clock,
                     areas=(*DEFAULT_AREAS, accounts_routes.ENDPOINTS, state_routes.ENDPOINTS))
    app[accounts_routes.STATE_VIEW_KEY] = state
    client: Client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    yield client, state
    await client.close()


async def test_account_life_cycle_with_real_scripts(setup: tuple[Client, FakeStateView]) -> None:
    client, state = setup
    scripts = [spent_script_of_kind(state.block, k) for k in KINDS]
    watch = [address_for_script(s, ADDRESS_PARAMS["mainnet"]) for s in scripts]
    resp = await client.post("/v1/accounts", json={"label": "cold", "watch": watch,
                                                   "birthday": 830000})
    assert resp.status == 201
    account_id = (await resp.json())["id"]

    doc = await (await client.get(f"/v1/accounts/{account_id}")).json()
    assert doc["label"] == "cold"
    assert doc["balance_sat"] == sum(u["value_sat"] for u in doc["utxos"])
    assert all(u["confirmations"] == 830592 - 830000 + 1 for u in doc["utxos"])
    assert {w["kind"] for w in doc["watch"]} == set(KINDS)
    assert any(h["kind"] == "debit" for h in doc["history"])

    proofs = await (await client.get(f"/v1/accounts/{account_id}/proofs")).json()
    assert proofs["proofs"]
    for p in proofs["proofs"]:
        header = BlockHeader.from_hex(p["header"])
        parsed = parse_electrum_proof(p)
        verify_electrum(parsed.tx_hash, parsed.merkle, parsed.pos, header, p["tx_count"])

    listed = await (await client.get("/v1/accounts")).json()
    assert [a["id"] for a in listed["accounts"]] == [account_id]
    assert (await client.delete(f"/v1/accounts/{account_id}")).status == 204
    assert (await client.get(f"/v1/accounts/{account_id}")).status == 404
    assert (await client.delete(f"/v1/accounts/{account_id}")).status == 404


@pytest.mark.parametrize(("body", "code"), [
    ({"label": "x", "watch": ["tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7"],
      "birthday": 1}, "bad_account"),
    ({"label": "x", "watch": [], "birthday": 1}, "bad_account"),
    ({"label": "", "watch": ["51"], "birthday": 1}, "bad_account"),
    ({"label": "x", "watch": ["51"], "birthday": -1}, "bad_account"),
    ({"label": "x", "watch": ["51"], "birthday": True}, "bad_account"),
    ({"label": "x", "watch": [5], "birthday": 1}, "bad_account"),
    ({"label": "x", "watch": ["51"]}, "missing_field"),
    ({"label": "x", "watch": ["51"], "birthday": 1, "extra": 1}, "unknown_field"),
])
async def test_bad_account_requests_are_400(setup: tuple[Client, FakeStateView],
                                            body: dict[str, object], code: str) -> None:
    client, _ = setup
    resp = await client.post("/v1/accounts", data=json.dumps(body),
                             headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == code


async def test_bad_ids(setup: tuple[Client, FakeStateView]) -> None:
    client, _ = setup
    assert (await client.get("/v1/accounts/NOT-AN-ID")).status == 400
    assert (await client.get("/v1/accounts/" + "0" * 16)).status == 404


async def test_snapshots(setup: tuple[Client, FakeStateView]) -> None:
    client, state = setup
    assert (await client.post("/v1/state/snapshots")).status == 409
    script = spent_script_of_kind(state.block, "p2tr")
    await client.post("/v1/accounts", json={"label": "t", "watch": [script.hex()],
                                            "birthday": 830000})
    resp = await client.post("/v1/state/snapshots")
    assert resp.status == 201
    info = await resp.json()
    assert info["height"] == 830000
    assert info["compressed_size"] > 0
    listed = await (await client.get("/v1/state/snapshots")).json()
    assert [s["height"] for s in listed["snapshots"]] == [830000]
    one = await (await client.get("/v1/state/snapshots/830000")).json()
    assert one["on_best_chain"] is True
    assert one["state_root"] == info["state_root"]
    assert (await client.get("/v1/state/snapshots/5")).status == 404
    assert (await client.get("/v1/state/snapshots/x")).status == 400
