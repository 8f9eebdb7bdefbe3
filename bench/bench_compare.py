"""aureond next to Electrum's verifier and a bare hashlib floor, on the same data.

Run: ``.venv/bin/python -m bench.bench_compare [--repeats N] [--skip-api]``.

* Header validation: aureond's ``validate_batch`` (every rule: linkage, PoW, canonical
  bits, the expected retarget, median-time-past, future limit, versions, checkpoints)
  in 2,000-header runs; the same through ``HeaderChain`` with the store; Electrum's
  chunk verification (``bench/electrum_side.py``, Debian's ``python3-electrum`` run by
  ``/usr/bin/python3``); and a double-SHA256 loop with no checks at all, measured in
  both interpreters.
* Proof verification: every transaction of mainnet blocks 830000 and 866342, with its
  Electrum-form branch: aureond's ``verify_branch`` with every check and the exact
  transaction count; Electrum's ``verify_tx_is_in_block``; the bare fold.
* ``/health`` (the full API pipeline) against a bare aiohttp handler, both in
  ``bench.bench_api``'s harness.

Each figure is the median of ``--repeats`` runs on one core. Ratios > 1 in the
"x Electrum" column mean aureond is faster; the floor column is floor rate / aureond
rate (1.0 would be aureond doing its checks for free).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from collections.abc import Sequence
from hashlib import sha256
from pathlib import Path
from typing import Any

import uvloop

from aureond.chain.batch import validate_batch
from aureond.chain.context import anchor_context
from aureond.chain.hashing import hash_to_display
from aureond.chain.header import HEADER_SIZE, BlockHeader
from aureond.chain.merkle import MerkleTree, verify_branch
from aureond.chain.params import get_network
from aureond.chain.target import work_from_bits
from aureond.chain.tx import parse_block
from aureond.p2p.headerchain import Anchor, HeaderChain
from aureond.store.policy import FsyncPolicy
from bench import bench_api
from bench.common import data_dir, markdown_table, median_rate

SYSTEM_PYTHON = "/usr/bin/python3"
ELECTRUM_SIDE = Path(__file__).with_name("electrum_side.py")
HEADER_RUNS = (("mainnet_000000-010236", 0), ("mainnet_822528-830592", 822528))
BLOCKS = (830000, 866342)
BATCH = 2000
NOW = 4_000_000_000


def _header_floor(body: bytes) -> int:
    s = sha256
    for o in range(0, len(body), HEADER_SIZE):
        s(s(body[o:o + HEADER_SIZE]).digest()).digest()
    return len(body) // HEADER_SIZE


def _electrum(headers: Path, start: int, proofs: Path, repeats: int) -> dict[str, Any] | None:
    try:
        out = subprocess.run([SYSTEM_PYTHON, str(ELECTRUM_SIDE), str(headers), str(start),
                              str(proofs), str(repeats)], check=True, capture_output=True,
                             text=True, timeout=1800)
    except (OSError, subprocess.CalledProcessError) as exc:
        err = getattr(exc, "stderr", "") or str(exc)
        print(f"Electrum side unavailable ({err.strip().splitlines()[-1:]}); install "
              "python3-electrum (apt-get install -y python3-electrum)")
        return None
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _proof_cases() -> tuple[list[tuple[bytes, tuple[bytes, ...], int, bytes, int]],
                            list[dict[str, Any]]]:
    ours = []
    theirs = []
    for height in BLOCKS:
        block = parse_block((data_dir() / "blocks" / f"mainnet_{height}.bin").read_bytes())
        tree = MerkleTree.from_leaves(block.txids)
        n = len(block.txids)
        for pos, txid in enumerate(block.txids):
            branch = tree.branch(pos)
            ours.append((txid, branch, pos, tree.root, n))
            theirs.append({"tx_hash": hash_to_display(txid),
                           "merkle": [hash_to_display(b) for b in branch], "pos": pos,
                           "root": hash_to_display(tree.root), "height": height})
    return ours, theirs


def _aureond_headers(raw: bytes, start: int, repeats: int) -> tuple[float, float, float]:
    params = get_network("mainnet")
    first = BlockHeader.parse(raw[:HEADER_SIZE])
    ctx0 = anchor_context(params, first, start)
    body = raw[HEADER_SIZE:]

    def validate() -> int:
        ctx = ctx0
        for o in range(0, len(body), BATCH * HEADER_SIZE):
            ctx = validate_batch(params, ctx, body[o:o + BATCH * HEADER_SIZE], NOW).context
        return len(body) // HEADER_SIZE

    def stored() -> int:
        with tempfile.TemporaryDirectory() as tmp:
            anchor = None if start == 0 else Anchor(first, start, work_from_bits(first.bits))
            chain = HeaderChain.open(params, tmp, anchor=anchor,
                                     fsync_policy=FsyncPolicy(every_n_headers=BATCH,
                                                              every_seconds=None))
            try:
                for o in range(0, len(body), BATCH * HEADER_SIZE):
                    chain.add(body[o:o + BATCH * HEADER_SIZE], NOW)
            finally:
                chain.close()
        return len(body) // HEADER_SIZE

    return (median_rate(validate, repeats)[0], median_rate(stored, repeats)[0],
            median_rate(lambda: _header_floor(body), repeats)[0])


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if not a or not b else f"{a / b:.2f}x"


def headers_table(repeats: int) -> str:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        proofs_file = Path(tmp) / "proofs.json"
        proofs_file.write_text("[]")
        for name, start in HEADER_RUNS:
            path = data_dir() / "headers" / f"{name}.bin"
            raw = path.read_bytes()
            ours, stored, floor = _aureond_headers(raw, start, repeats)
            # Electrum verifies from the header after the anchor, as we do.
            body_file = Path(tmp) / f"{name}.bin"
            body_file.write_bytes(raw)
            el = _electrum(body_file, start, proofs_file, repeats)
            el_rate = el["headers_per_s"] if el else None
            el_floor = el["header_floor_per_s"] if el else None
            rows.append((name, f"{len(raw) // HEADER_SIZE - 1:,}", f"{ours:,.0f}",
                         f"{stored:,.0f}", "-" if el_rate is None else f"{el_rate:,.0f}",
                         f"{floor:,.0f}", _ratio(ours, el_rate), _ratio(floor, ours),
                         _ratio(el_floor, el_rate)))
    return markdown_table(
        ["run", "headers", "aureond validate_batch (h/s)", "aureond HeaderChain+store (h/s)",
         "Electrum verify_chunk loop (h/s)", "hashlib floor (h/s)", "aureond x Electrum",
         "floor / aureond", "floor / Electrum (its own interpreter)"], rows)


def proofs_table(repeats: int) -> str:
    ours, theirs = _proof_cases()
    with tempfile.TemporaryDirectory() as tmp:
        proofs_file = Path(tmp) / "proofs.json"
        proofs_file.write_text(json.dumps(theirs))
        headers_file = data_dir() / "headers" / "signet_000000-002015.bin"
        el = _electrum(headers_file, 0, proofs_file, repeats)

    def checked() -> int:
        for txid, branch, pos, root, n in ours:
            verify_branch(txid, branch, pos, root, n)
        return len(ours)

    def floor() -> int:
        s = sha256
        for txid, branch, _pos, _root, _n in ours:
            h = txid
            for sib in branch:
                h = s(s(h + sib).digest()).digest()
        return len(ours)

    rate = median_rate(checked, repeats)[0]
    floor_rate = median_rate(floor, repeats)[0]
    el_rate = el["proofs_per_s"] if el else None
    el_floor = el["proof_floor_per_s"] if el else None
    rows = [(f"every tx of blocks {', '.join(map(str, BLOCKS))}", f"{len(ours):,}",
             f"{rate:,.0f}", "-" if el_rate is None else f"{el_rate:,.0f}",
             f"{floor_rate:,.0f}", _ratio(rate, el_rate), _ratio(floor_rate, rate),
             _ratio(el_floor, el_rate))]
    python = el["python"] if el else "-"
    return markdown_table(
        ["proofs", "count", "aureond verify_branch, all checks + tx count (/s)",
         f"Electrum verify_tx_is_in_block (/s, Python {python})", "hashlib floor (/s)",
         "aureond x Electrum", "floor / aureond", "floor / Electrum (its own interpreter)"],
        rows)


def api_table(requests: int, concurrency: int) -> str:
    results = uvloop.run(bench_api.run(requests, concurrency))
    bare = results[0]
    rows = [(r.name, f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", f"{r.rps:,.0f}",
             _ratio(bare.rps, r.rps), r.statuses) for r in results]
    return markdown_table(["endpoint", "p50 ms", "p99 ms", "requests/s",
                           "bare rate / this rate", "statuses"], rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--skip-api", action="store_true")
    args = parser.parse_args(argv)
    repeats = max(1, min(args.repeats, 50))
    print("## Header validation (headers/s, one core, median of "
          f"{repeats} runs)\n\n{headers_table(repeats)}\n")
    print(f"## Proof verification (proofs/s)\n\n{proofs_table(repeats)}\n")
    if not args.skip_api:
        print(f"## HTTP ({args.requests} requests per endpoint, {args.concurrency} "
              f"concurrent, client and server on one loop)\n\n"
              f"{api_table(args.requests, args.concurrency)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
