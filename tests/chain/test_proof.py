"""Proofs against a trusted header: every real proof, every tampering, the JSON shape."""

from __future__ import annotations

import json
import struct
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from aureond.chain.hashing import hash_from_display, hash_to_display
from aureond.chain.header import BlockHeader
from aureond.chain.params import get_network
from aureond.chain.partial_merkle import MerkleBlock, build_partial_tree
from aureond.chain.proof import (
    ProofResult,
    check_header_pow,
    parse_electrum_proof,
    verify_electrum,
    verify_txoutproof,
)
from aureond.chain.tx import compact_size, parse_block
from aureond.errors import EncodingError, ProofError


def _index(data_dir: Path) -> list[dict[str, Any]]:
    doc = json.loads((data_dir / "proofs" / "bip37" / "index.json").read_text())
    proofs: list[dict[str, Any]] = doc["proofs"]
    return proofs


def _header_for(data_dir: Path, block_hash: str) -> BlockHeader:
    for meta_path in (data_dir / "blocks").glob("*.json"):
        meta = json.loads(meta_path.read_text())
        if isinstance(meta, dict) and meta.get("hash") == block_hash:
            return BlockHeader.from_hex(meta["header_hex"])
    raise LookupError(block_hash)


def _reason(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ProofError) as exc:
        call(*args, **kwargs)
    return exc.value.reason


def test_every_real_txoutproof_verifies(data_dir: Path) -> None:
    for entry in _index(data_dir):
        raw = (data_dir / "proofs" / "bip37" / entry["file"]).read_bytes()
        header = _header_for(data_dir, entry["block_hash"])
        check_header_pow(header, get_network("mainnet").pow_limit)
        result = verify_txoutproof(raw, header)
        assert result.valid
        assert result.block_hash_hex == entry["block_hash"]
        assert result.to_json()["positions"] == [m["pos"] for m in entry["matched"]]
        assert result.to_json()["txids"] == [m["txid"] for m in entry["matched"]]


def test_every_real_electrum_proof_verifies(data_dir: Path) -> None:
    for path in sorted((data_dir / "proofs" / "electrum").glob("*.json")):
        doc = json.loads(path.read_text())
        header = BlockHeader.from_hex(doc["header_hex"])
        assert header.hash_hex == doc["block_hash"]
        for case in doc["cases"]:
            proof = parse_electrum_proof(case)
            assert proof.block_height == doc["block_height"]
            for count in (None, doc["tx_count"]):
                result = verify_electrum(proof.tx_hash, proof.merkle, proof.pos, header,
                                         count)
                assert result.to_json()["txids"] == [case["tx_hash"]]
                assert result.to_json()["positions"] == [case["pos"]]


def test_no_bit_flip_of_a_real_proof_proves_something_false(data_dir: Path) -> None:
    raw = (data_dir / "proofs" / "bip37" / "mainnet_0000000000013b8a_merkleblock.bin"
           ).read_bytes()
    block = parse_block((data_dir / "blocks" / "mainnet_0000000000013b8a_9tx.bin"
                         ).read_bytes())
    truth = set(enumerate(block.txids))
    header = block.header
    good = verify_txoutproof(raw, header)
    accepted = 0
    for i in range(len(raw)):
        for b in range(8):
            flipped = bytearray(raw)
            flipped[i] ^= 1 << b
            try:
                result = verify_txoutproof(bytes(flipped), header)
            except (EncodingError, ProofError):
                continue
            # A flip may survive only in total_tx (same walk) or the flag bytes (padding,
            # or flagging a sibling leaf as matched); what it proves is still true.
            accepted += 1
            assert 80 <= i < 84 or i >= len(raw) - 2
            assert {(m.pos, m.txid) for m in result.matches} <= truth
            assert result.block_hash == good.block_hash
    assert 0 < accepted < 40


def test_tampered_txoutproofs(data_dir: Path) -> None:
    raw = (data_dir / "proofs" / "bip37" / "mainnet_0830000-1850.bin").read_bytes()
    block = MerkleBlock.parse(raw)
    header = block.header
    other = _header_for(data_dir, "000000000000000000014ce9ba7c6760053c3c82ce6ab43d60afb101d3c8f1f1")
    assert _reason(verify_txoutproof, raw, other) == "header-mismatch"
    tree = block.tree
    extra_hash = MerkleBlock(header, replace(tree, hashes=(*tree.hashes, tree.hashes[0])))
    assert _reason(verify_txoutproof, extra_hash.serialize(), header) == "unused-hashes"
    extra_flags = MerkleBlock(header, replace(tree, flags=tree.flags + b"\x00"))
    assert _reason(verify_txoutproof, extra_flags.serialize(), header) == "unused-flags"
    swapped = MerkleBlock(header, replace(tree, hashes=tree.hashes[::-1]))
    assert _reason(verify_txoutproof, swapped.serialize(), header) == "root-mismatch"
    with pytest.raises(EncodingError):
        verify_txoutproof(raw[:-1], header)
    with pytest.raises(EncodingError):
        verify_txoutproof(raw + b"\x00", header)
    nothing = MerkleBlock(header, replace(tree, flags=bytes(len(tree.flags))))
    assert _reason(verify_txoutproof, nothing.serialize(), header) in {"unused-hashes",
                                                                      "unused-flags"}


def test_proof_of_no_transaction_is_not_valid(data_dir: Path) -> None:
    block = parse_block((data_dir / "blocks" / "mainnet_0000000000013b8a_9tx.bin"
                         ).read_bytes())
    empty = MerkleBlock(block.header, build_partial_tree(block.txids, set()))
    assert _reason(verify_txoutproof, empty.serialize(), block.header) == "no-match"


def test_tampered_electrum_proofs(data_dir: Path) -> None:
    doc = json.loads((data_dir / "proofs" / "electrum" / "mainnet_830000_get_merkle.json"
                      ).read_text())
    header = BlockHeader.from_hex(doc["header_hex"])
    case = next(c for c in doc["cases"] if c["pos"] == 1850)
    p = parse_electrum_proof(case)
    assert p.merkle[0] == p.tx_hash        # the last, odd, transaction: self-duplicated
    assert _reason(verify_electrum, p.tx_hash, p.merkle, 1851, header) == \
        "duplicate-sibling"
    assert _reason(verify_electrum, p.tx_hash, p.merkle, 1848, header) == "not-right-edge"
    assert _reason(verify_electrum, p.tx_hash, p.merkle, 1851, header, 1851) == \
        "pos-out-of-range"
    assert _reason(verify_electrum, p.tx_hash, p.merkle, 1849, header) == \
        "duplicate-sibling"
    p10 = parse_electrum_proof(next(c for c in doc["cases"] if c["pos"] == 10))
    assert _reason(verify_electrum, p10.tx_hash, p10.merkle[:-1], 10, header, 1851) == \
        "depth-mismatch"
    assert _reason(verify_electrum, p10.tx_hash, p10.merkle[:-1], 10, header) == \
        "root-mismatch"
    flipped = bytes([p.tx_hash[0] ^ 1]) + p.tx_hash[1:]
    assert _reason(verify_electrum, flipped, p.merkle, 1850, header) in {
        "root-mismatch", "not-right-edge"}
    # one level too many: above a self-duplication, a distinct right sibling is impossible
    assert _reason(verify_electrum, p.tx_hash, [*p.merkle, p.merkle[0]], 1850,
                   header) == "not-right-edge"


def test_header_pow() -> None:
    limit = get_network("mainnet").pow_limit
    genesis = get_network("mainnet").genesis
    check_header_pow(genesis, limit)
    assert _reason(check_header_pow, replace(genesis, nonce=genesis.nonce + 1, hash=b""),
                   limit) == "high-hash"
    assert _reason(check_header_pow, replace(genesis, bits=0x207FFFFF, hash=b""),
                   limit) == "bits-above-limit"
    assert _reason(check_header_pow, replace(genesis, bits=0x01810000, hash=b""),
                   limit) == "bad-bits"


GOOD = {"tx_hash": "11" * 32, "merkle": ["22" * 32], "pos": 1, "block_height": 5}

BAD_JSON: dict[str, Any] = {
    "not an object": [GOOD],
    "missing tx_hash": {k: v for k, v in GOOD.items() if k != "tx_hash"},
    "missing merkle": {k: v for k, v in GOOD.items() if k != "merkle"},
    "missing pos": {k: v for k, v in GOOD.items() if k != "pos"},
    "short tx_hash": {**GOOD, "tx_hash": "11" * 31},
    "non-hex item": {**GOOD, "merkle": ["zz" * 32]},
    "item not a string": {**GOOD, "merkle": [5]},
    "merkle not a list": {**GOOD, "merkle": "22" * 32},
    "negative pos": {**GOOD, "pos": -1},
    "pos a string": {**GOOD, "pos": "1"},
    "pos a bool": {**GOOD, "pos": True},
    "bad height": {**GOOD, "block_height": "x"},
}


@pytest.mark.parametrize("obj", list(BAD_JSON.values()), ids=list(BAD_JSON))
def test_malformed_electrum_json(obj: Any) -> None:
    with pytest.raises(EncodingError):
        parse_electrum_proof(obj)


def test_electrum_json_decodes_display_order() -> None:
    p = parse_electrum_proof(GOOD)
    assert p.tx_hash == hash_from_display("11" * 32)
    assert p.merkle == (hash_from_display("22" * 32),)
    assert (p.pos, p.block_height) == (1, 5)
    assert hash_to_display(p.tx_hash) == GOOD["tx_hash"]


def test_result_is_a_frozen_value() -> None:
    result = ProofResult(True, bytes(32), ())
    with pytest.raises(AttributeError):
        result.valid = False  # type: ignore[misc]
    assert compact_size(1) == b"\x01"
    assert struct.calcsize("<I") == 4
