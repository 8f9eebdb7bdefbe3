"""``header-chain``: build and fully validate long header chains, store included.

Synthetic chains (regtest proof of work on the real regtest genesis, see
:mod:`aureond.stress.chaingen`) of every configured length are mined 2,000 headers at
a time, each batch handed to a real :class:`~aureond.p2p.headerchain.HeaderChain`
(every consensus rule, fork choice, the on-disk store with its fsync policy) exactly
as header sync hands it a ``headers`` message. Mining is not timed; validation and
storage are, per batch. Then the real header runs of the data directory, where
present, go through the same path from their genesis or anchor.

An operation is one header; it fails when its batch is refused or when the chain does
not end where the generator did.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from aureond.chain.hashing import dsha256
from aureond.chain.header import HEADER_SIZE, BlockHeader
from aureond.chain.params import REGTEST, NetworkParams, get_network
from aureond.chain.target import work_from_bits
from aureond.errors import AureonError
from aureond.p2p.headerchain import Anchor, HeaderChain
from aureond.store.policy import FsyncPolicy
from aureond.stress.chaingen import iter_raw_batches
from aureond.stress.context import FAR_FUTURE, RunContext
from aureond.stress.measure import Progress
from aureond.stress.report import Outcome

__all__ = ["REAL_RUNS", "run_header_chain"]

BATCH = 2000
REAL_RUNS = (("mainnet_000000-010236", "mainnet"), ("mainnet_822528-830592", "mainnet"),
             ("testnet3_000000-009999", "testnet3"), ("signet_000000-002015", "signet"))
_NOTES = 5


class _Tally:
    def __init__(self) -> None:
        self.ops = 0
        self.failures = 0
        self.latencies: list[float] = []
        self.notes: list[str] = []
        self.seconds = 0.0

    def feed(self, chain: HeaderChain, raw: bytes, now: int) -> None:
        n = len(raw) // HEADER_SIZE
        self.ops += n
        start = time.perf_counter()
        try:
            chain.add(raw, now)
        except AureonError as exc:
            self.failures += n
            if len(self.notes) < _NOTES:
                self.notes.append(f"batch at height {chain.tip_height + 1}: {exc}")
        finally:
            elapsed = time.perf_counter() - start
            self.seconds += elapsed
            self.latencies.append(elapsed)

    def expect_tip(self, chain: HeaderChain, height: int, block_hash: bytes, what: str,
                   failed_before: int) -> None:
        """Headers short of the expected tip are failures (each counted once)."""
        if chain.tip_height != height or chain.tip_hash != block_hash \
                or chain.store.tip_height != height:
            missing = max(1, height - chain.tip_height)
            self.failures = max(self.failures, failed_before + missing)
            if len(self.notes) < _NOTES:
                self.notes.append(f"{what}: ended at height {chain.tip_height} "
                                  f"(store {chain.store.tip_height}), expected {height}")


def _open(params: NetworkParams, directory: Path, anchor: Anchor | None = None) -> HeaderChain:
    return HeaderChain.open(params, directory, anchor=anchor,
                            fsync_policy=FsyncPolicy(every_n_headers=BATCH,
                                                     every_seconds=None))


def _synthetic(ctx: RunContext, length: int, tally: _Tally, progress: Progress) -> float:
    """One chain of ``length`` headers (genesis included); returns its timed seconds."""
    before, failed_before = tally.seconds, tally.failures
    with tempfile.TemporaryDirectory(dir=ctx.work_dir) as tmp:
        chain = _open(REGTEST, Path(tmp))
        try:
            last = REGTEST.genesis.hash
            for i, mined in enumerate(iter_raw_batches(REGTEST.genesis, length - 1, BATCH)):
                last = dsha256(mined[-HEADER_SIZE:])
                tally.feed(chain, _corrupt(mined) if ctx.inject_failure and i == 0 else mined,
                           FAR_FUTURE)
                progress.advance(len(mined) // HEADER_SIZE)
            tally.expect_tip(chain, length - 1, last, f"synthetic chain of {length:,}",
                             failed_before)
        finally:
            chain.close()
    return tally.seconds - before


def _corrupt(raw: bytes) -> bytes:
    """Flip a merkle-root bit of the middle header: its hash and the next link break."""
    i = (len(raw) // HEADER_SIZE // 2) * HEADER_SIZE + 40
    return raw[:i] + bytes([raw[i] ^ 1]) + raw[i + 1:]


def _real_run(ctx: RunContext, data_dir: Path, name: str, network: str,
              tally: _Tally) -> dict[str, float] | None:
    path = data_dir / "headers" / f"{name}.bin"
    if not path.is_file():
        return None
    blob = path.read_bytes()
    start = int(json.loads(path.with_suffix(".json").read_text())["start_height"])
    params = get_network(network)
    first = BlockHeader.parse(blob[:HEADER_SIZE])
    anchor = None if start == 0 else Anchor(
        first, start, _chainwork_at(data_dir, start) or work_from_bits(first.bits))
    before, failed_before = tally.seconds, tally.failures
    with tempfile.TemporaryDirectory(dir=ctx.work_dir) as tmp:
        chain = _open(params, Path(tmp), anchor)
        try:
            body = blob[HEADER_SIZE:]
            for o in range(0, len(body), BATCH * HEADER_SIZE):
                tally.feed(chain, body[o:o + BATCH * HEADER_SIZE], FAR_FUTURE)
            end = start + len(body) // HEADER_SIZE
            tally.expect_tip(chain, end, dsha256(blob[-HEADER_SIZE:]), name, failed_before)
        finally:
            chain.close()
    seconds = tally.seconds - before
    count = len(blob) // HEADER_SIZE - 1
    return {"headers": count, "seconds": seconds,
            "headers_per_s": count / seconds if seconds > 0 else 0.0}


def _chainwork_at(data_dir: Path, height: int) -> int:
    """Chain work up to ``height`` from the boundary file; 0 when it is not there."""
    path = data_dir / "headers" / "mainnet_retarget_boundaries.json"
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return 0
    for entry in doc.get("entries", []):
        if entry.get("height") == height and "chainwork" in entry:
            return int(entry["chainwork"], 16)
    return 0


def run_header_chain(ctx: RunContext) -> Outcome:
    tally = _Tally()
    details: dict[str, object] = {}
    lengths = ctx.sizes.header_chains
    progress = Progress(ctx.progress, "header-chain", sum(n - 1 for n in lengths))
    try:
        for length in lengths:
            seconds = _synthetic(ctx, length, tally, progress)
            details[f"synthetic_{length}"] = {
                "headers": length - 1, "seconds": seconds,
                "headers_per_s": (length - 1) / seconds if seconds > 0 else 0.0}
    finally:
        progress.close()
    if ctx.data_dir is not None:
        for name, network in REAL_RUNS:
            real = _real_run(ctx, ctx.data_dir, name, network, tally)
            if real is not None:
                details[name] = real
    return Outcome(tally.ops, tally.failures, tally.latencies,
                   latency_unit=f"batch of up to {BATCH} headers (validate + store)",
                   details=details, failure_notes=tuple(tally.notes),
                   busy_seconds=tally.seconds)
