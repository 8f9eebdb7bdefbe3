"""``state-compression``: many accounts, many snapshots, each verified; restores; proofs.

``state_accounts`` accounts each watch one script. With the real data directory, the
first ones watch the real output scripts of mainnet blocks 830000 and 866342, which
are scanned first (866342 relabelled as 830000's child), so real credits, spends and
merkle branches are in the state; without it, two synthetic blocks take their place
and the outcome says so. Then ``state_snapshots`` rounds: a synthetic block pays 300
coins to random accounts and spends 100 tracked coins, and a snapshot is built
(through a :class:`~aureond.state.snapshot.LeafCache`, as the daemon does) and
written atomically to a state store that keeps them all.

Operations, each a success or a failure:

* a snapshot built and written (its time is the latency sample);
* a stored snapshot verified in full (:meth:`StateStore.load`), whose state root must
  be the one computed when it was built; a snapshot missing from the store fails;
* for the newest ``state_restores``, a ledger restored from it, which must need no
  rescan, stand at the snapshot's anchor, and give the same state root when snapshotted
  again;
* ``state_proofs`` account proofs from the newest snapshot, each verified against the
  root computed at build time (not the one in the file) and naming the right account.

``inject_failure`` flips one byte in the oldest snapshot file and one in one proof's
leaf: two operations that must fail.
"""

from __future__ import annotations

import dataclasses
import random
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from aureond.chain.tx import Block, OutPoint, parse_block
from aureond.errors import EncodingError, ProofError, StoreError
from aureond.state.accounts import Account, AccountRegistry
from aureond.state.errors import SnapshotError
from aureond.state.ledger import BlockRef, Ledger
from aureond.state.scanner import BlockScan, Credit, Debit, scan_block
from aureond.state.snapshot import (
    AccountProof,
    LeafCache,
    Prover,
    Snapshot,
    build_snapshot,
    restore_ledger,
    verify_account_proof,
)
from aureond.state.store import StateStore
from aureond.stress.context import RunContext
from aureond.stress.measure import Progress
from aureond.stress.report import Outcome

__all__ = ["FIRST_HEIGHT", "REAL_BLOCKS", "load_real_blocks", "run_state_compression"]

NETWORK = "mainnet"
REAL_BLOCKS = (830000, 866342)
FIRST_HEIGHT = REAL_BLOCKS[0]
PAYS_PER_BLOCK = 300
SPENDS_PER_BLOCK = 100
TAKEN_AT = 1_700_000_000
_NOTES = 5
_MiB = float(1 << 20)


class _Tally:
    def __init__(self) -> None:
        self.ops = 0
        self.failures = 0
        self.busy = 0.0
        self.notes: list[str] = []

    def check(self, ok: bool, note: str) -> None:
        self.ops += 1
        if not ok:
            self.failures += 1
            if len(self.notes) < _NOTES:
                self.notes.append(note)


def load_real_blocks(data_dir: Path | None) -> tuple[list[Block], str]:
    """The two real mainnet blocks, or none and why they are not used."""
    if data_dir is None:
        return [], "synthetic scripts only: no data directory"
    paths = [data_dir / "blocks" / f"mainnet_{h}.bin" for h in REAL_BLOCKS]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        return [], f"synthetic scripts only: {', '.join(missing)} not in {data_dir}"
    blocks = [parse_block(p.read_bytes()) for p in paths]
    return blocks, f"real mainnet blocks {REAL_BLOCKS[0]} and {REAL_BLOCKS[1]} scanned first"


def _real_scripts(blocks: Sequence[Block]) -> list[bytes]:
    """Distinct non-empty, non-OP_RETURN output scripts, in block order."""
    seen: dict[bytes, None] = {}
    for block in blocks:
        for tx in block.transactions:
            for out in tx.outputs:
                if out.script_pubkey and out.script_pubkey[0] != 0x6A:
                    seen.setdefault(out.script_pubkey)
    return list(seen)


def synthetic_scan(rng: random.Random, ledger: Ledger, scripts: Sequence[bytes],
                   pays: int, spends: int) -> BlockScan:
    """A block extending ``ledger``'s tip that pays ``pays`` coins to random scripts
    and spends ``spends`` of the tracked coins."""
    prev = ledger.tip.hash if ledger.tip is not None else bytes(32)
    credits = tuple(Credit(OutPoint(rng.randbytes(32), 0), rng.choice(scripts),
                           rng.randrange(546, 10**8), i + 1) for i in range(pays))
    spent = rng.sample(list(ledger.coins), min(spends, len(ledger.coins)))
    debits = tuple(Debit(op, rng.randbytes(32), 0, pays + 1 + i) for i, op in enumerate(spent))
    return BlockScan(rng.randbytes(32), prev, pays + spends + 1, credits, debits, ())


def _setup(rng: random.Random, accounts: int,
           blocks: Sequence[Block]) -> tuple[AccountRegistry, Ledger, list[bytes], int]:
    """Registry, ledger after the first two blocks, every script, and the real ones."""
    real = _real_scripts(blocks)
    scripts = [real[i] if i < len(real) else b"\x00\x14" + rng.randbytes(20)
               for i in range(accounts)]
    registry = AccountRegistry()
    for i, script in enumerate(scripts):
        registry.add(Account(rng.randbytes(8).hex(), f"account {i}", (script,), FIRST_HEIGHT))
    start = blocks[0].header.prev_hash if blocks else rng.randbytes(32)
    ledger = Ledger(BlockRef(FIRST_HEIGHT - 1, start))
    for script in scripts:
        ledger.watch(script, FIRST_HEIGHT)
    if blocks:
        ledger.apply(FIRST_HEIGHT, scan_block(blocks[0], set(ledger.watched), ledger.coins))
        second = scan_block(blocks[1], set(ledger.watched), ledger.coins)
        ledger.apply(FIRST_HEIGHT + 1, dataclasses.replace(
            second, prev_hash=blocks[0].header.hash))
    else:
        for height in (FIRST_HEIGHT, FIRST_HEIGHT + 1):
            ledger.apply(height, synthetic_scan(rng, ledger, scripts, 4 * PAYS_PER_BLOCK, 0))
    return registry, ledger, scripts, min(len(real), accounts)


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def _check_restore(snap: Snapshot, registry: AccountRegistry, tally: _Tally) -> float:
    """Restore a ledger from ``snap`` and snapshot it again; the restore's seconds."""
    started = time.perf_counter()
    ledger, rescan = restore_ledger(snap, registry)
    seconds = time.perf_counter() - started
    again = build_snapshot(NETWORK, registry, ledger, snap.info.taken_at)[0]
    tally.busy += time.perf_counter() - started
    anchor = snap.info.anchor
    tally.check(not rescan and ledger.tip == anchor
                and again.state_root == snap.info.state_root,
                f"snapshot at {anchor.height}: the restored ledger "
                + (f"needs a rescan of {len(rescan)} scripts" if rescan
                   else "gives a different state root"))
    return seconds


def _prove(snap: Snapshot | None, root: bytes | None, count: int, rng: random.Random,
           tally: _Tally, corrupt: bool) -> dict[str, float]:
    """Generate and verify ``count`` account proofs; the rates."""
    if snap is None or root is None:
        for _ in range(count):
            tally.check(False, "no verified newest snapshot to prove accounts from")
        return {"proofs": count, "proofs_generated_per_s": 0.0, "proofs_verified_per_s": 0.0}
    ids = rng.sample(snap.ids, min(count, len(snap.ids)))
    started = time.perf_counter()
    prover = Prover(snap)
    proofs = [prover.prove(i) for i in ids]
    generated = time.perf_counter() - started
    if corrupt and proofs:
        mid = len(proofs) // 2
        leaf = proofs[mid].leaf
        proofs[mid] = dataclasses.replace(proofs[mid], leaf=leaf[:-1] + bytes([leaf[-1] ^ 1]))
    started = time.perf_counter()
    for account_id, proof in zip(ids, proofs, strict=True):
        tally.check(*_verify_one(account_id, proof, root))
    verified = time.perf_counter() - started
    tally.busy += generated + verified
    return {"proofs": len(proofs),
            "proofs_generated_per_s": len(proofs) / generated if generated > 0 else 0.0,
            "proofs_verified_per_s": len(proofs) / verified if verified > 0 else 0.0}


def _verify_one(account_id: str, proof: AccountProof, root: bytes) -> tuple[bool, str]:
    try:
        state = verify_account_proof(proof, root)
    except (ProofError, EncodingError) as exc:
        return False, f"proof of account {account_id}: {exc}"
    return state.account.id == account_id, f"proof of account {account_id} names another"


def run_state_compression(ctx: RunContext) -> Outcome:
    sizes = ctx.sizes
    rng = random.Random(ctx.seed)  # noqa: S311 - a workload, not cryptography
    tally = _Tally()
    started = time.perf_counter()
    blocks, source = load_real_blocks(ctx.data_dir)
    registry, ledger, scripts, real_accounts = _setup(rng, sizes.state_accounts, blocks)
    details: dict[str, object] = {
        "data": source, "accounts": sizes.state_accounts, "real_script_accounts": real_accounts,
        "coins_after_first_blocks": len(ledger.coins), "setup_s": time.perf_counter() - started}
    total = 2 * sizes.state_snapshots + sizes.state_restores + 1
    progress = Progress(ctx.progress, "state-compression", total)
    store = StateStore(ctx.work_dir / "state", NETWORK, keep=max(1, sizes.state_snapshots))
    build_s: list[float] = []
    roots: dict[BlockRef, bytes] = {}
    raw = packed = 0
    cache = LeafCache()
    try:
        for n in range(sizes.state_snapshots):
            if n:
                ledger.apply(FIRST_HEIGHT + 1 + n, synthetic_scan(
                    rng, ledger, scripts, PAYS_PER_BLOCK, SPENDS_PER_BLOCK))
            t0 = time.perf_counter()
            try:
                info, data = build_snapshot(NETWORK, registry, ledger, TAKEN_AT + n, cache)
                store.write_snapshot(info, data)
            except (SnapshotError, StoreError) as exc:
                tally.check(False, f"snapshot {n}: {exc}")
                continue
            build_s.append(time.perf_counter() - t0)
            tally.check(True, "")
            roots[info.anchor] = info.state_root
            raw, packed = info.raw_size, info.compressed_size
            progress.advance()
        stored = store.list_snapshots()
        if ctx.inject_failure and stored:
            _flip_byte(stored[-1].path)
        verify_s, restore_s = [], []
        newest: Snapshot | None = None
        for i, entry in enumerate(stored):
            restore = i < sizes.state_restores
            height = entry.info.anchor.height
            t0 = time.perf_counter()
            try:
                snap = store.load(entry.path)
            except SnapshotError as exc:
                tally.check(False, f"snapshot at {height}: {exc}")
                if restore:
                    tally.check(False, f"snapshot at {height}: not restored")
                progress.advance(2 if restore else 1)
                continue
            verify_s.append(time.perf_counter() - t0)
            tally.busy += verify_s[-1]
            tally.check(roots.get(snap.info.anchor) == snap.info.state_root,
                        f"snapshot at {height}: verifies, but with a state root never built")
            if i == 0:
                newest = snap
            if restore:
                restore_s.append(_check_restore(snap, registry, tally))
            progress.advance(2 if restore else 1)
        for _ in range(len(roots) - len(stored)):
            tally.check(False, "a snapshot written is missing from the store")
        root = roots.get(newest.info.anchor) if newest is not None else None
        rates = _prove(newest, root, sizes.state_proofs, rng, tally, ctx.inject_failure)
        progress.advance()
    finally:
        progress.close()
    tally.busy += sum(build_s)
    details.update({
        "snapshots": len(build_s), "coins_final": len(ledger.coins),
        "snapshot_s_first": build_s[0] if build_s else 0.0,
        "snapshot_s_median": _median(build_s[1:] or build_s),
        "snapshot_s_max": max(build_s, default=0.0),
        "raw_bytes_newest": raw, "compressed_bytes_newest": packed,
        "ratio_newest": packed / raw if raw else 0.0,
        "compressed_bytes_all": sum(s.info.compressed_size for s in stored),
        "verify_s_median": _median(verify_s), "restores": len(restore_s),
        "restore_s_median": _median(restore_s),
        "verify_and_restore_s_median": _median(verify_s) + _median(restore_s),
        **rates})
    summary = (
        f"{sizes.state_accounts:,} accounts, {len(build_s)} snapshots; {source}",
        f"snapshot p50 {details['snapshot_s_median']:.3f} s; newest {raw / _MiB:.2f} MiB raw "
        f"-> {packed / _MiB:.2f} MiB zlib ({details['ratio_newest']:.1%})",
        f"verify p50 {_median(verify_s):.3f} s; restore p50 {_median(restore_s):.3f} s "
        f"(of {len(restore_s)}); {rates['proofs']:,.0f} proofs: "
        f"{rates['proofs_generated_per_s']:,.0f}/s generated, "
        f"{rates['proofs_verified_per_s']:,.0f}/s verified")
    return Outcome(tally.ops, tally.failures, build_s,
                   latency_unit="snapshot built and written atomically", details=details,
                   failure_notes=tuple(tally.notes), busy_seconds=tally.busy, summary=summary)
