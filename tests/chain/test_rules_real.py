"""Every rule against real chain data: whole runs accepted, retargets recomputed,
min-difficulty blocks accepted, and single-field mutations rejected for the right reason."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from aureond.chain.batch import validate_batch
from aureond.chain.context import ChainContext, anchor_context, genesis_context
from aureond.chain.hashing import hash_to_display
from aureond.chain.header import HEADER_SIZE, BlockHeader
from aureond.chain.params import MAINNET, SIGNET, TESTNET3, get_network
from aureond.chain.rules import retarget, validate_header
from aureond.chain.target import bits_to_target, work_from_bits
from aureond.errors import HeaderRejectedError
from tests.chain.helpers import FAR_FUTURE, read_run

RUNS = [
    ("mainnet_000000-010236", "mainnet", 0),
    ("mainnet_822528-830592", "mainnet", 822528),
    ("testnet3_000000-009999", "testnet3", 0),
    ("signet_000000-002015", "signet", 0),
]


@pytest.mark.parametrize(("name", "network", "start"), RUNS)
def test_real_run_accepted_by_batch_and_reference(data_dir: Path, name: str, network: str,
                                                  start: int) -> None:
    raw, meta = read_run(data_dir, name)
    params = get_network(network)
    assert meta["start_height"] == start
    first = BlockHeader.parse(raw[:HEADER_SIZE])
    ctx = anchor_context(params, first, start)
    result = validate_batch(params, ctx, raw[HEADER_SIZE:], FAR_FUTURE)
    assert result.context.height == meta["end_height"]
    assert hash_to_display(result.context.hash) == meta["last_hash"]
    # The reference path agrees header by header.
    ref = ctx
    for o in range(HEADER_SIZE, len(raw), HEADER_SIZE):
        header = BlockHeader.parse(raw[o:o + HEADER_SIZE])
        ref = ref.advance(params, header, validate_header(params, ref, header, FAR_FUTURE))
    assert ref == result.context


def test_mainnet_chainwork_matches_core_at_10236(data_dir: Path) -> None:
    raw, _ = read_run(data_dir, "mainnet_000000-010236")
    result = validate_batch(MAINNET, genesis_context(MAINNET), raw[HEADER_SIZE:], FAR_FUTURE)
    # Every block is difficulty 1 (work 0x100010001), genesis included.
    assert result.context.chainwork == 10237 * 0x100010001


def test_every_mainnet_retarget_recomputed(data_dir: Path) -> None:
    doc = json.loads((data_dir / "headers" / "mainnet_retarget_boundaries.json").read_text())
    by_height = {e["height"]: BlockHeader.from_hex(e["header"]) for e in doc["entries"]}
    checked = 0
    for height in sorted(by_height):
        if height == 0 or height % 2016:
            continue
        first = by_height[height - 2016]
        last = by_height[height - 1]
        ctx = ChainContext(height - 1, last.hash, last.time, last.bits, 0, (last.time,),
                           first.time, first.bits, last.bits)
        assert retarget(MAINNET, ctx) == by_height[height].bits, height
        checked += 1
    assert checked == 413


def test_chainwork_values_in_boundary_file_agree_with_work(data_dir: Path) -> None:
    doc = json.loads((data_dir / "headers" / "mainnet_retarget_boundaries.json").read_text())
    entries = {e["height"]: e for e in doc["entries"]}
    # Work over a period = 2016 blocks of that period's bits.
    for k in range(1, 50):
        start, end = entries[2016 * k], entries[2016 * k + 2015]
        prev_end = entries[2016 * k - 1]
        bits = int(start["bits"], 16) if isinstance(start["bits"], str) else start["bits"]
        expect = int(prev_end["chainwork"], 16) + 2016 * work_from_bits(bits)
        assert int(end["chainwork"], 16) == expect


def test_testnet3_min_difficulty_blocks_accepted(data_dir: Path) -> None:
    raw, _meta = read_run(data_dir, "testnet3_000000-009999")
    min_diff = [i for i in range(len(raw) // HEADER_SIZE)
                if struct.unpack_from("<I", raw, i * HEADER_SIZE + 72)[0] == 0x1D00FFFF
                and 4033 <= i <= 8063]
    assert len(min_diff) == 177
    assert 8062 in min_diff
    # The walk-back block right after them is at the real difficulty again.
    assert struct.unpack_from("<I", raw, 4209 * HEADER_SIZE + 72)[0] == 0x1C3FFFC0
    result = validate_batch(TESTNET3, genesis_context(TESTNET3), raw[HEADER_SIZE:4210 * 80],
                            FAR_FUTURE)
    assert result.context.height == 4209
    assert result.context.walk_bits == 0x1C3FFFC0


def _real_ctx_and_header(raw: bytes, index: int, network: str,
                         start: int) -> tuple[ChainContext, BlockHeader]:
    params = get_network(network)
    ctx = anchor_context(params, BlockHeader.parse(raw[:HEADER_SIZE]), start)
    if index > 1:
        ctx = validate_batch(params, ctx, raw[HEADER_SIZE:index * HEADER_SIZE],
                             FAR_FUTURE).context
    return ctx, BlockHeader.parse(raw[index * HEADER_SIZE:(index + 1) * HEADER_SIZE])


def _mutate(h: BlockHeader, field: str, value: int | bytes) -> BlockHeader:
    fields = {"version": h.version, "prev_hash": h.prev_hash, "merkle_root": h.merkle_root,
              "time": h.time, "bits": h.bits, "nonce": h.nonce}
    fields[field] = value
    return BlockHeader(**fields)  # type: ignore[arg-type]


MUTATIONS = [
    # (field, how, expected reason)
    ("prev_hash", lambda h: bytes(32), "bad-prevblk"),
    ("prev_hash", lambda h: h.prev_hash[:-1] + bytes([h.prev_hash[-1] ^ 1]), "bad-prevblk"),
    ("bits", lambda h: h.bits - 1, "bad-diffbits"),
    ("bits", lambda h: 0x207FFFFF, "bad-diffbits"),
    ("bits", lambda h: 0x01123456, "bad-bits-encoding"),
    ("bits", lambda h: (h.bits | 0x00800000), "bad-bits-encoding"),
    ("nonce", lambda h: h.nonce ^ 1, "high-hash"),
    ("merkle_root", lambda h: bytes([h.merkle_root[0] ^ 0x80]) + h.merkle_root[1:],
     "high-hash"),
    ("version", lambda h: h.version ^ 4, "high-hash"),
    ("time", lambda h: h.time + 1, "high-hash"),
]


@pytest.mark.parametrize(("name", "network", "start"), RUNS)
@pytest.mark.parametrize(("field", "how", "reason"), MUTATIONS)
def test_single_field_mutation_rejected(data_dir: Path, name: str, network: str, start: int,
                                        field: str, how: object, reason: str) -> None:
    raw, _ = read_run(data_dir, name)
    params = get_network(network)
    n = len(raw) // HEADER_SIZE
    # A few positions per run, including one right after a retarget boundary.
    for index in sorted({1, n // 3, n - 1, min(n - 1, 2017)}):
        ctx, header = _real_ctx_and_header(raw, index, network, start)
        bad = _mutate(header, field, how(header))  # type: ignore[operator]
        if params.allow_min_difficulty and field == "bits" and bad.bits == 0x1D00FFFF:
            continue
        with pytest.raises(HeaderRejectedError) as info:
            validate_header(params, ctx, bad, FAR_FUTURE)
        assert info.value.reason == reason, (index, info.value)
        assert info.value.height == ctx.height + 1
        # The batch path names the same header and reason, in the middle of a run too.
        tail = raw[(index + 1) * HEADER_SIZE:(index + 6) * HEADER_SIZE]
        with pytest.raises(HeaderRejectedError) as binfo:
            validate_batch(params, ctx, bad.serialize() + tail, FAR_FUTURE)
        assert (binfo.value.height, binfo.value.reason) == (ctx.height + 1, reason)


def test_mutation_deep_inside_a_batch_is_located(data_dir: Path) -> None:
    raw, _ = read_run(data_dir, "mainnet_822528-830592")
    ctx = anchor_context(MAINNET, BlockHeader.parse(raw[:HEADER_SIZE]), 822528)
    body = bytearray(raw[HEADER_SIZE:])
    pos = 5000 * HEADER_SIZE + 72  # bits of the header at 822528 + 5001
    body[pos] ^= 0x01
    with pytest.raises(HeaderRejectedError) as info:
        validate_batch(MAINNET, ctx, bytes(body), FAR_FUTURE)
    assert info.value.height == 822528 + 5001
    assert info.value.reason in {"bad-diffbits", "bad-bits-encoding"}


def test_future_limit_uses_the_given_now(data_dir: Path) -> None:
    raw, _ = read_run(data_dir, "mainnet_000000-010236")
    ctx, header = _real_ctx_and_header(raw, 100, "mainnet", 0)
    assert validate_header(MAINNET, ctx, header, header.time - 7200) > 0
    with pytest.raises(HeaderRejectedError) as info:
        validate_header(MAINNET, ctx, header, header.time - 7201)
    assert info.value.reason == "time-too-new"


def test_stale_headers_have_the_main_chain_bits_and_pow(data_dir: Path) -> None:
    doc = json.loads((data_dir / "headers" / "mainnet_stale_headers.json").read_text())
    raw, _ = read_run(data_dir, "mainnet_822528-830592")
    for entry in doc["entries"]:
        stale = BlockHeader.from_hex(entry["stale_header"])
        ctx, main = _real_ctx_and_header(raw, entry["height"] - 822528, "mainnet", 822528)
        assert stale.prev_hash == main.prev_hash
        assert stale.hash != main.hash
        assert validate_header(MAINNET, ctx, stale, FAR_FUTURE) == validate_header(
            MAINNET, ctx, main, FAR_FUTURE)


def test_signet_pow_limit_is_its_genesis_bits() -> None:
    assert SIGNET.pow_limit == bits_to_target(0x1E0377AE)


def test_testnet3_checkpoint_at_546_is_on_the_real_chain(data_dir: Path) -> None:
    raw, _ = read_run(data_dir, "testnet3_000000-009999")
    h546 = BlockHeader.parse(raw[546 * HEADER_SIZE:547 * HEADER_SIZE])
    assert TESTNET3.checkpoint_map[546] == h546.hash
