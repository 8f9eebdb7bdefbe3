"""The Electrum half of ``bench.bench_compare``, run by the system interpreter.

Debian's ``python3-electrum`` lives in the system Python, not in the project's venv, so
``bench_compare`` runs this file with ``/usr/bin/python3`` and reads one JSON object
from its stdout. It times, on the same data files as the aureond side:

* headers: Electrum's own chunk verification loop (``Blockchain.verify_chunk``'s body:
  ``deserialize_header``, ``Blockchain.verify_header`` with the chunk's target,
  ``hash_header``), chunk by chunk of 2,016 headers;
* proofs: ``verifier.verify_tx_is_in_block`` (``SPV.hash_merkle_root`` with its
  inner-node-is-a-transaction check, then the root comparison);
* the bare double-SHA256 floor of both, in this interpreter, for a fair ratio.

Usage: ``/usr/bin/python3 bench/electrum_side.py HEADERS.bin START PROOFS.json REPEATS``.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from electrum.blockchain import (  # type: ignore[import-not-found]
    Blockchain,
    deserialize_header,
    hash_header,
)
from electrum.verifier import verify_tx_is_in_block  # type: ignore[import-not-found]

Run = Callable[[], int]

HEADER_SIZE = 80
CHUNK = 2016


def _median_rate(fn: Run, repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        count = fn()
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def _headers(blob: bytes, start: int) -> Run:
    def run() -> int:
        prev_hash: str = deserialize_header(blob[:HEADER_SIZE], start)["prev_block_hash"]
        n = len(blob) // HEADER_SIZE
        for c in range(0, n, CHUNK):
            first = blob[c * HEADER_SIZE:(c + 1) * HEADER_SIZE]
            target = Blockchain.bits_to_target(int.from_bytes(first[72:76], "little"))
            for i in range(c, min(n, c + CHUNK)):
                raw = blob[i * HEADER_SIZE:(i + 1) * HEADER_SIZE]
                header = deserialize_header(raw, start + i)
                Blockchain.verify_header(header, prev_hash, target)
                prev_hash = hash_header(header)
        return n
    return run


def _header_floor(blob: bytes) -> Run:
    def run() -> int:
        s = hashlib.sha256
        for o in range(0, len(blob), HEADER_SIZE):
            s(s(blob[o:o + HEADER_SIZE]).digest()).digest()
        return len(blob) // HEADER_SIZE
    return run


def _proofs(cases: list[dict[str, Any]]) -> Run:
    def run() -> int:
        for c in cases:
            verify_tx_is_in_block(c["tx_hash"], c["merkle"], c["pos"],
                                  {"merkle_root": c["root"]}, c["height"])
        return len(cases)
    return run


def _proof_floor(cases: list[dict[str, Any]]) -> Run:
    raw = [(bytes.fromhex(c["tx_hash"])[::-1], [bytes.fromhex(m)[::-1] for m in c["merkle"]])
           for c in cases]

    def run() -> int:
        s = hashlib.sha256
        for leaf, branch in raw:
            h = leaf
            for sib in branch:
                h = s(s(h + sib).digest()).digest()
        return len(raw)
    return run


def main() -> None:
    path, start, proofs_path, repeats = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(
        sys.argv[4])
    with open(path, "rb") as f:
        blob = f.read()
    with open(proofs_path) as f:
        cases = json.load(f)
    _headers(blob, start)()  # must not raise: the run is valid
    _proofs(cases)()
    out = {
        "python": sys.version.split()[0],
        "headers_per_s": _median_rate(_headers(blob, start), repeats),
        "header_floor_per_s": _median_rate(_header_floor(blob), repeats),
        "proofs_per_s": _median_rate(_proofs(cases), repeats),
        "proof_floor_per_s": _median_rate(_proof_floor(cases), repeats),
    }
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
