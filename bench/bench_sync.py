"""Header sync throughput from a local reference node: aureond end to end, next to the
node's own serving rate.

Run by hand: ``.venv/bin/python -m bench.bench_sync [--node sv|litecoin] [--blocks N]
[--runs R]``.

1. starts a regtest node of the kind asked (the SV reference node by default, or
   Litecoin Core, whose headers cost a scrypt hash each) on loopback and mines
   ``--blocks`` blocks (20,000 by default);
2. *node serving rate*: a raw P2P client (``aureond.wire`` framing and message codec,
   no header validation, nothing stored) does the handshake, then sends ``getheaders``
   from the last header received until the answer is empty; headers / elapsed seconds,
   median of ``--runs`` passes over the whole chain;
3. the same loop also hashing every header and checking it links to the one before:
   the least any client must do, a floor for what a Python client can reach;
4. *aureond*: ``python -m aureond run`` with a fresh data dir, ``--runs`` times; the
   time from the daemon's ``node.ready`` log line (store open, HTTP bound) to its
   ``sync.state synced`` line, and from process spawn to that line (interpreter start
   included); each run is checked to end on the node's best block hash.

The issue's bar: aureond must not be slower than the node's serving rate by more than
2x. Numbers depend on the machine; both sides run here at once (the node serving,
aureond validating and storing), as they would in production.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aureond.chain.hashing import dsha256
from aureond.chain.header import HEADER_SIZE
from aureond.chain.params import NetworkParams, get_network
from aureond.devnet import KINDS, RegtestNode, ensure_binaries
from aureond.wire import (
    GetHeaders,
    Headers,
)
from bench.common import markdown_table
from tests.integration.daemon import DaemonProcess, wait_for
from tests.integration.rawpeer import RawPeer as BaseRawPeer

MINE_BATCH = 2_000
SOCKET_TIMEOUT = 30.0
SYNC_TIMEOUT = 300.0
TARGET_RATIO = 2.0
HTTP_UNLIMITED = {"AUREOND_HTTP__RATE_PER_SECOND": "100000",
                  "AUREOND_HTTP__RATE_BURST": "100000",
                  "AUREOND_HTTP__MONITORING_RATE_PER_SECOND": "100000",
                  "AUREOND_HTTP__MONITORING_RATE_BURST": "100000"}


class RawPeer(BaseRawPeer):
    """The test harness's raw connection, plus the download loop the benchmark times."""

    def __init__(self, host: str, port: int, params: NetworkParams) -> None:
        super().__init__(host, port, params, timeout=SOCKET_TIMEOUT,
                         user_agent="/aureond-bench:0/")

    def download(self, start: bytes, *, link: bool = False) -> int:
        """Ask for headers from ``start`` until the node has no more; the count.

        ``link``: also hash every header and check it names the one before (the least
        any client must do, as a floor for what Python can reach)."""
        last, count = start, 0
        while True:
            self.send(GetHeaders((last,)))
            message = self.receive()
            while not isinstance(message, Headers):
                message = self.receive()
            if not message.raw:
                return count
            raw = message.raw
            count += len(raw) // HEADER_SIZE
            if link:
                for offset in range(0, len(raw), HEADER_SIZE):
                    if raw[offset + 4:offset + 36] != last:
                        raise SystemExit(f"header {count} does not link")
                    last = dsha256(raw[offset:offset + HEADER_SIZE])
            else:
                last = dsha256(raw[-HEADER_SIZE:])


def node_serving_rate(node: RegtestNode, runs: int, *,
                      link: bool = False) -> tuple[float, list[float], int]:
    """Median headers/s of ``runs`` full-chain downloads over one connection."""
    params = get_network(node.network)
    genesis = params.genesis_hash
    peer = RawPeer(*node.p2p_addr, params)
    try:
        peer.handshake()
        rates, count = [], 0
        for _ in range(runs):
            start = time.perf_counter()
            count = peer.download(genesis, link=link)
            rates.append(count / (time.perf_counter() - start))
    finally:
        peer.close()
    return statistics.median(rates), rates, count


@dataclass(frozen=True, slots=True)
class DaemonRun:
    headers: int
    sync_s: float       # node.ready -> synced
    end_to_end_s: float  # process spawn -> synced


def _log_time(daemon: DaemonProcess, event: str) -> float | None:
    for line in daemon.log_lines():
        if line.get("event") == event and (event != "sync.state"
                                           or line.get("state") == "synced"):
            return datetime.fromisoformat(str(line["timestamp"])).timestamp()
    return None


def aureond_run(node: RegtestNode, work: Path, index: int) -> DaemonRun:
    host, port = node.p2p_addr
    best = node.rpc.getbestblockhash()
    height = node.rpc.getblockcount()
    daemon = DaemonProcess(work / f"aureond-{index}", network=node.network,
                           connect=[f"{host}:{port}"],
                           env=HTTP_UNLIMITED, log_path=work / f"aureond-{index}.log")
    spawned = time.time()
    try:
        daemon.start(wait_ready=False)
        synced = wait_for(lambda: daemon.alive() and _log_time(daemon, "sync.state"),
                          SYNC_TIMEOUT, "aureond to report synced", interval=0.1)
        wait_for(lambda: (daemon.get("/v1/tip") or (0, {}))[1].get("hash") == best,
                 SYNC_TIMEOUT, "aureond's tip to equal the node's", interval=0.1)
        ready = _log_time(daemon, "node.ready")
        if ready is None:
            raise SystemExit("aureond never logged node.ready")
    finally:
        code = daemon.terminate()
    if code != 0:
        raise SystemExit(f"aureond exited with {code}; see {daemon.log_path}")
    return DaemonRun(height, synced - ready, synced - spawned)


def mine(node: RegtestNode, blocks: int) -> float:
    start = time.perf_counter()
    while (count := node.rpc.getblockcount()) < blocks:
        node.generate(min(MINE_BATCH, blocks - count))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", choices=sorted(KINDS), default="sv")
    parser.add_argument("--blocks", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if not 2_000 <= args.blocks <= 40_000:
        raise SystemExit("--blocks must be within 2,000..40,000 (the node refuses blocks "
                         "dated over 2 h ahead, which fast mining reaches near 43,000)")
    work = Path(tempfile.mkdtemp(prefix="aureond-bench-sync-"))
    try:
        with RegtestNode(ensure_binaries(KINDS[args.node]), work / "node") as node:
            mined_s = mine(node, args.blocks)
            print(f"mined {args.blocks:,} blocks in {mined_s:.1f} s", file=sys.stderr)
            node_rate, node_rates, served = node_serving_rate(node, args.runs)
            floor_rate, floor_rates, _ = node_serving_rate(node, args.runs, link=True)
            runs = [aureond_run(node, work, i) for i in range(args.runs)]
        sync_rate = statistics.median(r.headers / r.sync_s for r in runs)
        e2e_rate = statistics.median(r.headers / r.end_to_end_s for r in runs)
        rows = [
            ["node serving (raw getheaders loop)", f"{served:,}", f"{node_rate:,.0f}",
             " ".join(f"{x:,.0f}" for x in node_rates), "1.00"],
            ["raw loop + hash and link every header", f"{served:,}", f"{floor_rate:,.0f}",
             " ".join(f"{x:,.0f}" for x in floor_rates), f"{node_rate / floor_rate:.2f}"],
            ["aureond: node.ready -> synced", f"{runs[0].headers:,}", f"{sync_rate:,.0f}",
             " ".join(f"{r.headers / r.sync_s:,.0f}" for r in runs),
             f"{node_rate / sync_rate:.2f}"],
            ["aureond: spawn -> synced", f"{runs[0].headers:,}", f"{e2e_rate:,.0f}",
             " ".join(f"{r.headers / r.end_to_end_s:,.0f}" for r in runs),
             f"{node_rate / e2e_rate:.2f}"],
        ]
        print(markdown_table(["measure", "headers", "median headers/s", "runs",
                              "node rate / this"], rows))
        ratio = node_rate / sync_rate
        verdict = "within" if ratio <= TARGET_RATIO else "OVER"
        sync_s = statistics.median(r.sync_s for r in runs)
        e2e_s = statistics.median(r.end_to_end_s for r in runs)
        print(f"\naureond syncs at 1/{ratio:.2f} of the node's serving rate: {verdict} the "
              f"{TARGET_RATIO:.0f}x bound (median sync {sync_s:.3f} s, end to end "
              f"{e2e_s:.3f} s)")
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
