"""BIP158 basic filters against the reference node's test vectors (testnet3 blocks).

Each row of ``blocks/testnet3_blockfilters.json``: height, block hash, block, the
scripts its inputs spend, the previous filter header, the filter, its header, notes.
Every row is built from its block and spent scripts and compared byte for byte.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from aureond.chain.blockfilter import (
    BASIC_PARAMS,
    GENESIS_PREV_HEADER,
    BlockFilter,
    basic_filter_elements,
    filter_header,
    filter_header_chain,
    filter_key,
    match_block_filters,
)
from aureond.chain.gcs import QuerySet
from aureond.chain.hashing import hash_from_display, hash_to_display
from aureond.chain.tx import Block, parse_block


@dataclass(frozen=True)
class Vector:
    height: int
    block_hash: bytes
    block: Block
    spent: list[bytes]
    prev_header: bytes
    filter: bytes
    header: bytes
    notes: str


@pytest.fixture(scope="module")
def vectors(data_dir: Path) -> list[Vector]:
    rows = json.loads((data_dir / "blocks" / "testnet3_blockfilters.json").read_text())
    assert rows[0][0].startswith("Block Height,Block Hash,Block,")
    out = [Vector(r[0], hash_from_display(r[1]), parse_block(bytes.fromhex(r[2])),
                  [bytes.fromhex(s) for s in r[3]], hash_from_display(r[4]),
                  bytes.fromhex(r[5]), hash_from_display(r[6]), r[7]) for r in rows[1:]]
    assert len(out) == 10
    return out


def test_every_vector_builds_to_the_exact_filter_and_header(vectors: list[Vector]) -> None:
    for v in vectors:
        assert v.block.header.hash == v.block_hash, v.height
        built = BlockFilter.build(v.block, v.spent)
        assert built.encoded.hex() == v.filter.hex(), v.height
        assert built.header(v.prev_header) == v.header, v.height
        assert hash_to_display(filter_header(built.filter_hash, v.prev_header)) == \
            hash_to_display(v.header)


def test_every_given_filter_matches_its_elements_and_not_others(
        vectors: list[Vector]) -> None:
    rng = np.random.default_rng(158)
    for v in vectors:
        parsed = BlockFilter.parse(v.block_hash, v.filter)
        assert parsed.encoded == v.filter
        assert parsed.header(v.prev_header) == v.header
        parsed.gcs.validate()
        elements = basic_filter_elements(v.block, v.spent)
        assert parsed.gcs.n == len(elements), v.height
        for element in elements:
            assert parsed.match(element), (v.height, element.hex())
        strangers = [rng.bytes(int(n)) for n in rng.integers(1, 60, 200)]
        assert not any(parsed.match(s) for s in strangers[:20]), v.height
        assert not parsed.match_any(strangers), v.height
        if elements:
            assert parsed.match_any(strangers + elements[-1:]), v.height


def test_all_vectors_at_once(vectors: list[Vector]) -> None:
    filters = [BlockFilter.parse(v.block_hash, v.filter) for v in vectors]
    # Watching one script of each non-empty filter: exactly those match.
    watched = [basic_filter_elements(v.block, v.spent)[-1:] for v in vectors]
    expected = [bool(w) for w in watched]
    assert match_block_filters(filters, QuerySet.of(s for w in watched for s in w)) \
        == expected
    rng = np.random.default_rng(157)
    strangers = QuerySet.of(rng.bytes(34) for _ in range(500))
    assert match_block_filters(filters, strangers) == [False] * len(filters)


def test_the_element_rules_of_the_notes(vectors: list[Vector]) -> None:
    by_height = {v.height: v for v in vectors}
    # 49291: an output pays to an empty script; it is not an element.
    v = by_height[49291]
    outputs = [o.script_pubkey for tx in v.block.transactions for o in tx.outputs]
    assert b"" in outputs
    assert b"" not in basic_filter_elements(v.block, v.spent)
    # 180480: inputs spend empty scripts; they are not elements either.
    v = by_height[180480]
    assert v.spent.count(b"") == 3
    assert b"" not in basic_filter_elements(v.block, v.spent)
    # 926485: an OP_RETURN output is left out; a script paid twice counts once.
    v = by_height[926485]
    elements = basic_filter_elements(v.block, v.spent)
    outputs = [o.script_pubkey for tx in v.block.transactions for o in tx.outputs]
    assert any(s[:1] == b"\x6a" for s in outputs)
    assert not any(s[:1] == b"\x6a" for s in elements)
    assert len(elements) == len(set(elements))
    assert len(set(outputs)) < len(outputs)
    # 1414221: nothing to filter, the filter is the empty set.
    v = by_height[1414221]
    assert basic_filter_elements(v.block, v.spent) == []
    assert v.filter == b"\x00"


def test_the_header_chain_links_consecutive_blocks(vectors: list[Vector]) -> None:
    by_height = {v.height: v for v in vectors}
    genesis, second, third = by_height[0], by_height[2], by_height[3]
    assert genesis.prev_header == GENESIS_PREV_HEADER
    assert third.prev_header == second.header
    hashes = [BlockFilter.parse(v.block_hash, v.filter).filter_hash
              for v in (second, third)]
    assert filter_header_chain(hashes, second.prev_header) == [second.header, third.header]
    genesis_hash = BlockFilter.parse(genesis.block_hash, genesis.filter).filter_hash
    assert filter_header_chain([genesis_hash]) == [genesis.header]


def test_spent_scripts_must_cover_every_input(vectors: list[Vector]) -> None:
    v = next(v for v in vectors if v.spent)
    with pytest.raises(ValueError, match="spends 8 outputs, 7 spent scripts"):
        basic_filter_elements(v.block, v.spent[:-1])


def test_key_and_params() -> None:
    block_hash = bytes(range(32))
    assert filter_key(block_hash) == bytes(range(16))
    assert (BASIC_PARAMS.p, BASIC_PARAMS.m) == (19, 784931)
    with pytest.raises(ValueError, match="32 bytes"):
        filter_key(bytes(31))
