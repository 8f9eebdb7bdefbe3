"""Header chain + store throughput: ``HeaderChain.add`` over the on-disk ``HeaderStore``.

Run by hand: ``.venv/bin/python -m bench.bench_chain [--count N] [--repeats R]
[--skip-real]``.

Chains: a synthetic regtest chain of ``--count`` headers (200,000 by default) mined on
the real regtest genesis (``aureond.stress.chaingen``: real proof of work at regtest
difficulty, mined before any timing), then the real mainnet runs of the data
directory (``$AUREOND_TEST_DATA``), each fed in 2,000-header batches, as header sync
hands ``headers`` messages to the chain. Each row is the median of ``--repeats`` runs,
each into a fresh data directory, timed from the first ``add`` to the end of
``close`` (the last fsync and the hash table's buffered inserts included). The runs
are interleaved (each repeat times every path once) and the last column is each
path's time over the validator's in the same repeat, the median over repeats.

Rows per chain:

* ``validate_batch``: the validator alone (every rule), the ceiling for the rest;
* ``HeaderChain + store, fsync off-thread``: the daemon's policy. The store never
  fsyncs on its own (``FsyncPolicy.manual()``); every 2,000 headers a ``SyncTicket``
  is taken and fsynced in a worker thread while adding goes on, one at a time (a
  ticket still running when the next is due lets that one pass, so the next covers
  both), as ``DurableHeaders`` does through its batch processor;
* ``HeaderChain + store, fsync inline``: ``FsyncPolicy(every_n_headers=2000)``, the
  store fsyncs on the caller's thread (what ``aureond stress header-chain`` and
  ``bench_compare`` time);
* ``HeaderChain + store, no fsync``: the CPU cost alone (no flush at all, not even
  at close, which then leaves the hash table's buffered inserts to the next open).

The machine's two cores are shared; compare rows of one run, not runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path

from aureond.chain.batch import validate_batch
from aureond.chain.context import anchor_context
from aureond.chain.header import HEADER_SIZE, BlockHeader
from aureond.chain.params import REGTEST, NetworkParams, get_network
from aureond.chain.target import work_from_bits
from aureond.heap import freeze_heap
from aureond.p2p.durable import WRITE_CHUNK
from aureond.p2p.headerchain import Anchor, HeaderChain
from aureond.p2p.syncpeer import HEADERS_PER_STEP
from aureond.store.policy import FsyncPolicy
from aureond.store.syncticket import SyncTicket
from aureond.stress.chaingen import iter_raw_batches
from bench.common import data_dir, markdown_table

BATCH = 2000
SYNC_EVERY = 2000
NOW = 4_000_000_000
REAL_RUNS = (("mainnet_000000-010236", "mainnet"), ("mainnet_822528-830592", "mainnet"))


class Run:
    """One chain to feed: its network, first header (genesis or anchor) and body."""

    def __init__(self, name: str, params: NetworkParams, first: BlockHeader, height: int,
                 body: bytes) -> None:
        self.name = name
        self.params = params
        self.first = first
        self.height = height
        self.body = body

    @property
    def count(self) -> int:
        return len(self.body) // HEADER_SIZE

    def batches(self) -> list[bytes]:
        step = BATCH * HEADER_SIZE
        return [self.body[o:o + step] for o in range(0, len(self.body), step)]

    def anchor(self) -> Anchor | None:
        if self.height == 0:
            return None
        return Anchor(self.first, self.height, work_from_bits(self.first.bits))


def _validate(run: Run) -> float:
    ctx = anchor_context(run.params, run.first, run.height,
                         work_from_bits(run.first.bits))
    batches = run.batches()
    start = time.perf_counter()
    for raw in batches:
        ctx = validate_batch(run.params, ctx, raw, NOW).context
    return time.perf_counter() - start


def _chain(run: Run, mode: str, work: Path) -> float:
    policy = {"inline": FsyncPolicy(every_n_headers=SYNC_EVERY, every_seconds=None),
              "threaded": FsyncPolicy.manual(), "steps": FsyncPolicy.manual(),
              "none": FsyncPolicy(every_n_headers=None, every_seconds=None,
                                  on_close=False)}[mode]
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        chain = HeaderChain.open(run.params, tmp, anchor=run.anchor(),
                                 fsync_policy=policy)
        # As the daemon does once a peer says how high its chain is: the hash table is
        # sized at the first write instead of doubling on the way.
        chain.expect_height(run.height + run.count, NOW)
        batches = run.batches()
        with ThreadPoolExecutor(1, thread_name_prefix="fsync") as pool:
            inflight: tuple[SyncTicket, Future[None]] | None = None
            since = 0
            start = time.perf_counter()
            if mode == "steps":
                chain.deferred_writes = True
            for raw in batches:
                if mode == "steps":
                    _add_in_steps(chain, raw)
                else:
                    chain.add(raw, NOW)
                since += len(raw) // HEADER_SIZE
                if mode not in ("threaded", "steps") or since < SYNC_EVERY:
                    continue
                if inflight is not None and inflight[1].done():
                    _finish(chain, *inflight)
                    inflight = None
                if inflight is None:
                    ticket = chain.begin_sync()
                    inflight = ticket, pool.submit(ticket.fsync)
                    since = 0
            if inflight is not None:
                _finish(chain, *inflight)
            chain.close()
            elapsed = time.perf_counter() - start
    return elapsed


def _add_in_steps(chain: HeaderChain, raw: bytes) -> None:
    """One message as the running node takes it: validated ``HEADERS_PER_STEP``
    headers per event-loop turn, then written ``WRITE_CHUNK`` per turn by the writer
    (here one after the other, without the loop)."""
    step = HEADERS_PER_STEP * HEADER_SIZE
    for o in range(0, len(raw), step):
        chain.add(raw[o:o + step], NOW)
        while chain.write_pending(WRITE_CHUNK):
            pass


def _finish(chain: HeaderChain, ticket: SyncTicket, future: Future[None]) -> None:
    future.result()
    ticket.release()
    chain.finish_sync(ticket)


def _regtest(count: int) -> Run:
    body = b"".join(iter_raw_batches(REGTEST.genesis, count, BATCH))
    return Run(f"regtest synthetic 1-{count}", REGTEST, REGTEST.genesis, 0, body)


def _real(name: str, network: str) -> Run | None:
    path = data_dir() / "headers" / f"{name}.bin"
    if not path.is_file():
        return None
    blob = path.read_bytes()
    start = int(json.loads(path.with_suffix(".json").read_text())["start_height"])
    first = BlockHeader.parse(blob[:HEADER_SIZE])
    return Run(name, get_network(network), first, start, blob[HEADER_SIZE:])


MODES = (("threaded", "HeaderChain + store, fsync off-thread (daemon)"),
         ("steps", "the same in the daemon's steps (validation, writes)"),
         ("inline", "HeaderChain + store, fsync inline every 2,000"),
         ("none", "HeaderChain + store, no fsync"))


def measure(runs: Sequence[Run], repeats: int, work: Path) -> str:
    rows = []
    for run in runs:
        # Short runs are repeated more so their medians are as steady as the long one's.
        reps = max(repeats, min(25, repeats * 100_000 // max(1, run.count)))
        paths: list[tuple[str, Callable[[], float]]] = [
            ("validate_batch", partial(_validate, run))]
        paths += [(label, partial(_chain, run, mode, work)) for mode, label in MODES]
        rates: dict[str, list[float]] = {label: [] for label, _ in paths}
        ratios: dict[str, list[float]] = {label: [] for label, _ in paths}
        # Interleaved: each repeat times every path once, and each path's ratio to
        # the validator is taken within the repeat, so the machine's drift (two
        # shared cores) cancels out of the ratio column.
        for _ in range(reps):
            seconds = {label: fn() for label, fn in paths}
            for label, took in seconds.items():
                rates[label].append(run.count / took)
                ratios[label].append(took / seconds["validate_batch"])
        for label, _ in paths:
            rows.append((run.name, f"{run.count:,}", label,
                         f"{statistics.median(rates[label]):,.0f}", _spread(rates[label]),
                         f"{statistics.median(ratios[label]):.2f}"))
    return markdown_table(["chain", "headers", "path", "median headers/s", "min-max",
                           "time / validate_batch's (median)"], rows)


def _spread(rates: Sequence[float]) -> str:
    return f"{min(rates):,.0f}-{max(rates):,.0f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-real", action="store_true")
    args = parser.parse_args(argv)
    if not 2_000 <= args.count <= 2_000_000:
        raise SystemExit("--count must be within 2,000..2,000,000")
    repeats = max(1, min(args.repeats, 25))
    mined = time.perf_counter()
    runs = [_regtest(args.count)]
    print(f"mined {args.count:,} regtest headers in {time.perf_counter() - mined:.1f} s\n")
    if not args.skip_real:
        runs += [r for r in (_real(name, net) for name, net in REAL_RUNS) if r is not None]
    # As the daemon does once started: the heap built so far (imports, the chains
    # just mined) is frozen, so the collector only walks what is created after.
    freeze_heap()
    with tempfile.TemporaryDirectory(prefix="aureond-bench-chain-") as work:
        print(measure(runs, repeats, Path(work)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
