"""POST /v1/proofs/verify with the REAL proofs of /work/shared/data/proofs.

Our fake best chain is the real mainnet run 822528..830592, so block 830000 is on it,
593 blocks deep; blocks 300025, 0000000000013b8a... and 866342 are not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry

from aureond.api import create_app
from aureond.clock import FakeClock
from tests.api.fakes import BLOCK_830000, FakeView, RealChain

Client = TestClient[web.Request, web.Application]
JSON = {"Content-Type": "application/json"}
CONFIRMATIONS_830000 = 830592 - 830000 + 1
HASH_LIST = 80 + 4 + 1  # offset of the first hash in a merkleblock with < 253 hashes


def bip37_index(data_dir: Path) -> dict[str, Any]:
    doc = json.loads((data_dir / "proofs" / "bip37" / "index.json").read_text())
    return {p["file"]: p for p in doc["proofs"]}


def bip37(data_dir: Path, name: str) -> bytes:
    return (data_dir / "proofs" / "bip37" / name).read_bytes()


def electrum_cases(data_dir: Path, height: int) -> list[dict[str, Any]]:
    path = data_dir / "proofs" / "electrum" / f"mainnet_{height}_get_merkle.json"
    cases: list[dict[str, Any]] = json.loads(path.read_text())["cases"]
    return cases


async def verify(client: Client, body: Any, status: int = 200) -> Any:
    resp = await client.post("/v1/proofs/verify", data=json.dumps(body), headers=JSON)
    answer = await resp.json()
    assert resp.status == status, answer
    return answer


BIP37_830000 = ["mainnet_0830000-0.bin", "mainnet_0830000-1.bin", "mainnet_0830000-10.bin",
                "mainnet_0830000-100.bin", "mainnet_0830000-1000.bin",
                "mainnet_0830000-1850.bin"]


@pytest.mark.parametrize("name", BIP37_830000)
async def test_real_txoutproof_is_valid_with_confirmations(client: Client, data_dir: Path,
                                                           name: str) -> None:
    expected = bip37_index(data_dir)[name]
    answer = await verify(client, {"proof": bip37(data_dir, name).hex()})
    assert answer == {
        "valid": True, "block_hash": BLOCK_830000, "height": 830000,
        "confirmations": CONFIRMATIONS_830000,
        "txids": [m["txid"] for m in expected["matched"]],
        "positions": [m["pos"] for m in expected["matched"]],
    }


async def test_uppercase_hex_is_accepted(client: Client, data_dir: Path) -> None:
    answer = await verify(client, {"proof": bip37(data_dir, BIP37_830000[0]).hex().upper()})
    assert answer["valid"] is True


@pytest.mark.parametrize(("offset", "reason"), [
    (HASH_LIST, "root-mismatch"),               # a sibling hash changed
    (HASH_LIST + 3 * 32, "root-mismatch"),       # the matched txid (4th hash, pos 100)
    (HASH_LIST + 12 * 32 + 1, "unused-flags"),   # the first flag bit cleared: walk stops
])
async def test_tampered_txoutproof_is_valid_false(client: Client, data_dir: Path, offset: int,
                                                  reason: str) -> None:
    raw = bytearray(bip37(data_dir, "mainnet_0830000-100.bin"))
    raw[offset] ^= 0x01
    answer = await verify(client, {"proof": raw.hex()})
    assert answer["valid"] is False
    assert answer["block_hash"] == BLOCK_830000
    assert answer["confirmations"] == CONFIRMATIONS_830000
    assert answer["reason"]
    assert answer["message"]
    assert answer["reason"] == reason


@pytest.mark.parametrize("name", ["mainnet_300025_merkleblock.bin",
                                  "mainnet_0000000000013b8a_merkleblock.bin"])
async def test_real_proof_of_a_block_not_on_our_chain_is_404(client: Client, data_dir: Path,
                                                             name: str) -> None:
    answer = await verify(client, {"proof": bip37(data_dir, name).hex()}, 404)
    assert answer["error"]["code"] == "unknown_block"
    assert bip37_index(data_dir)[name]["block_hash"] in answer["error"]["message"]


async def test_proof_whose_header_was_altered_is_404(client: Client, data_dir: Path) -> None:
    raw = bytearray(bip37(data_dir, BIP37_830000[0]))
    raw[76] ^= 0x01  # the nonce: another header, which we do not have
    answer = await verify(client, {"proof": raw.hex()}, 404)
    assert answer["error"]["code"] == "unknown_block"


async def test_proof_against_a_side_branch_block_is_404(client: Client, data_dir: Path,
                                                        real_chain: RealChain) -> None:
    raw = real_chain.stale.serialize() + bip37(data_dir, BIP37_830000[0])[80:]
    answer = await verify(client, {"proof": raw.hex()}, 404)
    assert answer["error"]["code"] == "block_not_on_best_chain"


@pytest.mark.parametrize(("mutate", "fragment"), [
    (lambda h: h + "00", "trailing"),
    (lambda h: h[:-2], ""),
    (lambda h: h[:100], "shorter"),
    (lambda h: h + "0", "hex"),
    (lambda h: h[:10] + "zz" + h[12:], "hex"),
    (lambda h: h[:10] + " " + h[11:], "hex"),
])
async def test_malformed_txoutproof_is_400(client: Client, data_dir: Path, mutate: Any,
                                           fragment: str) -> None:
    answer = await verify(client, {"proof": mutate(bip37(data_dir, BIP37_830000[2]).hex())}, 400)
    assert answer["error"]["code"] == "malformed_proof"
    assert fragment in answer["error"]["message"]


@pytest.mark.parametrize("case_index", range(9))
async def test_real_electrum_proofs_are_valid(client: Client, data_dir: Path,
                                              case_index: int) -> None:
    case = electrum_cases(data_dir, 830000)[case_index]
    answer = await verify(client, case)
    assert answer == {"valid": True, "block_hash": BLOCK_830000, "height": 830000,
                      "confirmations": CONFIRMATIONS_830000, "txids": [case["tx_hash"]],
                      "positions": [case["pos"]]}


async def test_electrum_proof_by_block_hash(client: Client, data_dir: Path) -> None:
    case = dict(electrum_cases(data_dir, 830000)[4])
    del case["block_height"]
    case["block_hash"] = BLOCK_830000
    assert (await verify(client, case))["valid"] is True
    case["block_height"] = 830000  # both, agreeing
    assert (await verify(client, case))["valid"] is True
    case["block_height"] = 830001  # both, disagreeing
    answer = await verify(client, case, 400)
    assert "830000" in answer["error"]["message"]


def _flip_hex(text: str) -> str:
    return ("1" if text[0] != "1" else "2") + text[1:]


@pytest.mark.parametrize("tamper", ["sibling", "pos", "tx_hash", "short", "height"])
async def test_tampered_electrum_proof_is_valid_false(client: Client, data_dir: Path,
                                                      tamper: str) -> None:
    case = dict(electrum_cases(data_dir, 830000)[5])
    if tamper == "sibling":
        case["merkle"] = [*case["merkle"][:3], _flip_hex(case["merkle"][3]), *case["merkle"][4:]]
    elif tamper == "pos":
        case["pos"] += 2
    elif tamper == "tx_hash":
        case["tx_hash"] = _flip_hex(case["tx_hash"])
    elif tamper == "short":
        case["merkle"] = case["merkle"][:-1]
    else:
        case["block_height"] = 830001  # a real block of ours, but not the proof's
    answer = await verify(client, case)
    assert answer["valid"] is False
    assert answer["reason"] == "root-mismatch"
    assert answer["height"] == case["block_height"]


async def test_electrum_proof_for_a_block_above_our_tip_is_404(client: Client,
                                                               data_dir: Path) -> None:
    case = electrum_cases(data_dir, 866342)[0]
    answer = await verify(client, case, 404)
    assert answer["error"]["code"] == "unknown_block"


async def test_electrum_proof_for_a_side_branch_hash_is_404(client: Client, data_dir: Path,
                                                            real_chain: RealChain) -> None:
    case = {k: v for k, v in electrum_cases(data_dir, 830000)[0].items() if k != "block_height"}
    case["block_hash"] = real_chain.stale.hash_hex
    answer = await verify(client, case, 404)
    assert answer["error"]["code"] == "block_not_on_best_chain"


@pytest.mark.parametrize(("patch", "fragment"), [
    ({"pos": "3"}, "pos"), ({"pos": -1}, "pos"), ({"pos": True}, "pos"), ({"pos": 1.0}, "pos"),
    ({"merkle": "ab"}, "merkle"), ({"merkle": [1]}, "merkle[0]"), ({"merkle": ["ab"]}, "merkle[0]"),
    ({"tx_hash": None}, "tx_hash"), ({"tx_hash": "zz" * 32}, "tx_hash"),
    ({"block_height": "830000"}, "block_height"), ({"block_height": -5}, "block_height"),
    ({"block_height": None}, "block_height or block_hash"),
    ({"block_hash": 830000}, "block_hash"), ({"block_hash": "ab"}, "block_hash"),
    ({"header_hex": "00"}, "unknown keys"), ({"proof": "00"}, "beside 'proof'"),
])
async def test_malformed_electrum_request_is_400(client: Client, data_dir: Path,
                                                 patch: dict[str, Any], fragment: str) -> None:
    case = {**electrum_cases(data_dir, 830000)[0], **patch}
    case = {k: v for k, v in case.items() if v is not None or k != "block_height"}
    answer = await verify(client, case, 400)
    assert answer["error"]["code"] == "malformed_proof"
    assert fragment in answer["error"]["message"]


@pytest.mark.parametrize("missing", ["tx_hash", "merkle", "pos"])
async def test_electrum_request_missing_a_field_is_400(client: Client, data_dir: Path,
                                                       missing: str) -> None:
    case = dict(electrum_cases(data_dir, 830000)[0])
    del case[missing]
    answer = await verify(client, case, 400)
    assert missing in answer["error"]["message"]


async def test_huge_height_is_404_without_a_lookup(client: Client, view: FakeView,
                                                   data_dir: Path) -> None:
    case = {**electrum_cases(data_dir, 830000)[0], "block_height": 10**30}
    await verify(client, case, 404)
    assert view.lookups == []


async def test_proof_results_are_counted(view: FakeView, clock: FakeClock, make_client: Any,
                                         data_dir: Path) -> None:
    registry = CollectorRegistry()
    client = await make_client(create_app(view, registry, clock))
    good = bip37(data_dir, BIP37_830000[0])
    bad = bytearray(good)
    bad[HASH_LIST] ^= 1
    await verify(client, {"proof": good.hex()})
    await verify(client, {"proof": bad.hex()})
    await verify(client, {"proof": "zz"}, 400)
    await verify(client, {"proof": bip37(data_dir, "mainnet_300025_merkleblock.bin").hex()}, 404)
    counts = {r: registry.get_sample_value("aureond_proofs_verified_total", {"result": r})
              for r in ("valid", "invalid", "malformed", "unknown-block")}
    assert counts == {"valid": 1, "invalid": 1, "malformed": 1, "unknown-block": 1}
