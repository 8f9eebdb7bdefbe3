"""Test helpers for the chain core: real-data loaders and a tiny header miner."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from aureond.chain.hashing import dsha256
from aureond.chain.header import BlockHeader
from aureond.chain.params import REGTEST, NetworkParams
from aureond.chain.target import bits_to_target

FAR_FUTURE = 4_000_000_000  # a "now" that never trips the future-time rule


def read_run(data_dir: Path, name: str) -> tuple[bytes, dict[str, Any]]:
    """A header run (``headers/<name>.bin``) and its sidecar JSON."""
    raw = (data_dir / "headers" / f"{name}.bin").read_bytes()
    meta = json.loads((data_dir / "headers" / f"{name}.json").read_text())
    return raw, meta


def mine(prev: bytes, time: int, bits: int, version: int = 0x20000000,
         merkle: bytes = b"\x11" * 32, start_nonce: int = 0) -> BlockHeader:
    """Grind a nonce so the header meets ``bits`` (only sensible for easy targets)."""
    target = bits_to_target(bits)
    nonce = start_nonce
    while True:
        h = BlockHeader(version, prev, merkle, time, bits, nonce & 0xFFFFFFFF)
        if int.from_bytes(h.hash, "little") <= target:
            return h
        nonce += 1


def mine_bad_pow(prev: bytes, time: int, bits: int, version: int = 0x20000000) -> BlockHeader:
    """A header whose hash is above its target."""
    target = bits_to_target(bits)
    nonce = 0
    while True:
        h = BlockHeader(version, prev, b"\x22" * 32, time, bits, nonce)
        if int.from_bytes(h.hash, "little") > target:
            return h
        nonce += 1


def easy_params(base: NetworkParams = REGTEST, **changes: Any) -> NetworkParams:
    """A copy of ``base`` with an easy pow limit so tests can mine; other rules as given."""
    fields: dict[str, Any] = {"pow_limit": REGTEST.pow_limit, "name": f"test-{base.name}"}
    fields.update(changes)
    return dataclasses.replace(base, **fields)


def chain_of(params: NetworkParams, parent: BlockHeader, count: int, *, spacing: int = 600,
             bits: int | None = None, salt: int = 0) -> list[BlockHeader]:
    """``count`` mined headers on ``parent`` at a steady ``spacing``."""
    out: list[BlockHeader] = []
    prev = parent
    for _ in range(count):
        h = mine(prev.hash, prev.time + spacing, bits if bits is not None else prev.bits,
                 merkle=dsha256(bytes([salt % 256]) + prev.hash))
        out.append(h)
        prev = h
    return out
