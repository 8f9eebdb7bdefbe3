"""State compression at scale: many accounts, many snapshots, restores and proofs.

Scenario ``state-compression``: ``--accounts`` accounts (100,000 by default), each
watching one script; the first ones watch real scripts of the real mainnet blocks
830000 and 866342, which are scanned first (so real credits and spends are in the
state). Then ``--snapshots`` rounds (100 by default): a synthetic block pays and spends
coins of random accounts, and a snapshot is built and written atomically to a
temporary state store that keeps them all. Every stored snapshot is then verified in
full; the newest ``--restores`` are restored into a ledger whose state root must equal
the stored one. Measured: snapshot time, file size against
raw size, restore time (full verification, then the ledger rebuilt), account proof
generation and verification rates, peak memory (max RSS), and the success rate (every
snapshot verified and restored to the same state root, every proof verified).

    .venv/bin/python -m bench.bench_state [--accounts N] [--snapshots N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from aureond.chain.tx import OutPoint, parse_block
from aureond.state.accounts import Account, AccountRegistry
from aureond.state.errors import SnapshotError
from aureond.state.ledger import BlockRef, Ledger
from aureond.state.scanner import BlockScan, Credit, Debit, scan_block
from aureond.state.snapshot import (
    LeafCache,
    Prover,
    build_snapshot,
    restore_ledger,
    verify_account_proof,
)
from aureond.state.store import StateStore
from bench.common import data_dir, markdown_table

__all__ = ["main", "run"]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _real_scripts(blocks: list[Any]) -> list[bytes]:
    seen: dict[bytes, None] = {}
    for block in blocks:
        for tx in block.transactions:
            for out in tx.outputs:
                if out.script_pubkey and out.script_pubkey[0] != 0x6A:
                    seen.setdefault(out.script_pubkey)
    return list(seen)


def _synthetic_block(rng: random.Random, height: int, prev: bytes, ledger: Ledger,
                     scripts: list[bytes], pays: int, spends: int) -> BlockScan:
    block_hash = rng.randbytes(32)
    credits = []
    for i in range(pays):
        credits.append(Credit(OutPoint(rng.randbytes(32), 0), rng.choice(scripts),
                              rng.randrange(546, 10**8), i + 1))
    coins = list(ledger.coins)
    spent = rng.sample(coins, min(spends, len(coins)))
    debits = [Debit(op, rng.randbytes(32), 0, pays + 1 + i) for i, op in enumerate(spent)]
    return BlockScan(block_hash, prev, pays + spends + 1, tuple(credits), tuple(debits), ())


def run(accounts: int, snapshots: int, restores: int = 3, seed: int = 1) -> dict[str, Any]:
    rng = random.Random(seed)
    root = data_dir()
    real = [parse_block((root / "blocks" / f"mainnet_{h}.bin").read_bytes())
            for h in (830000, 866342)]
    real_scripts = _real_scripts(real)
    registry = AccountRegistry()
    scripts = []
    for i in range(accounts):
        script = (real_scripts[i] if i < len(real_scripts)
                  else b"\x00\x14" + rng.randbytes(20))
        scripts.append(script)
        registry.add(Account(rng.randbytes(8).hex(), f"account {i}", (script,), 830000))
    ledger = Ledger(BlockRef(829999, real[0].header.prev_hash))
    for script in scripts:
        ledger.watch(script, 830000)
    ledger.apply(830000, scan_block(real[0], set(ledger.watched), ledger.coins))
    # 866342 does not follow 830000: relabel it as the next block for the scan's sake.
    second = scan_block(real[1], set(ledger.watched), ledger.coins)
    ledger.apply(830001, BlockScan(second.block_hash, real[0].header.hash, second.tx_count,
                                   second.credits, second.debits, second.inclusions))
    real_credits = len(ledger.coins)

    cache = LeafCache()
    times, files, raws = [], [], []
    ok = 0
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(Path(tmp), "mainnet", keep=snapshots)
        height = 830001
        for n in range(snapshots):
            if n:
                scan = _synthetic_block(rng, height + 1, ledger.tip.hash if ledger.tip
                                        else bytes(32), ledger, scripts, 300, 100)
                height += 1
                ledger.apply(height, scan)
            start = time.perf_counter()
            info, data = build_snapshot("mainnet", registry, ledger, 1_700_000_000 + n, cache)
            store.write_snapshot(info, data)
            times.append(time.perf_counter() - start)
            files.append(info.compressed_size)
            raws.append(info.raw_size)
        stored = store.list_snapshots()
        restore_times, verify_times = [], []
        for i, s in enumerate(stored):
            start = time.perf_counter()
            try:
                parsed = store.load(s.path)
            except SnapshotError:
                continue
            verify_times.append(time.perf_counter() - start)
            if i >= restores:
                ok += 1
                continue
            start = time.perf_counter()
            restored, rescan = restore_ledger(parsed, registry)
            restore_times.append(time.perf_counter() - start)
            again = build_snapshot("mainnet", registry, restored, 0)[0]
            ok += int(not rescan and again.state_root == s.info.state_root)
        newest = store.load(stored[0].path)

    prover = Prover(newest)
    ids = rng.sample(list(newest.ids), min(10_000, len(newest.ids)))
    start = time.perf_counter()
    proofs = [prover.prove(i) for i in ids]
    gen_rate = len(proofs) / (time.perf_counter() - start)
    start = time.perf_counter()
    verified = 0
    for p in proofs:
        verify_account_proof(p, newest.info.state_root)
        verified += 1
    ver_rate = verified / (time.perf_counter() - start)
    return {
        "scenario": "state-compression",
        "accounts": accounts,
        "snapshots": snapshots,
        "real_coins_after_scan": real_credits,
        "snapshot_seconds_first": round(times[0], 3),
        "snapshot_seconds_median": round(statistics.median(times[1:] or times), 3),
        "snapshot_seconds_max": round(max(times), 3),
        "raw_bytes_last": raws[-1],
        "compressed_bytes_last": files[-1],
        "ratio_last": round(files[-1] / raws[-1], 4),
        "verify_seconds_median": round(statistics.median(verify_times), 3),
        "restore_seconds_median": round(statistics.median(restore_times), 3),
        "proofs_generated_per_s": round(gen_rate),
        "proofs_verified_per_s": round(ver_rate),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "success_rate": round((ok + verified) / (len(stored) + len(proofs)), 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--snapshots", type=int, default=100)
    parser.add_argument("--restores", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = run(args.accounts, args.snapshots, args.restores)
    print(markdown_table(["metric", "value"], list(result.items())))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
