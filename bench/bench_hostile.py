"""Hostile peers next to a local reference node: what they cost the daemon.

Run by hand: ``.venv/bin/python -m bench.bench_hostile [--blocks N] [--runs R]``.

1. starts a regtest node on loopback and mines ``--blocks`` blocks (10,000 by default);
2. *honest only*: ``aureond run`` with a fresh data dir and the node as its only peer;
   seconds from process spawn to the node's tip, median of ``--runs``;
3. *with a stalling peer*: the same, plus a scripted peer that claims 100,000 more
   blocks and answers every ``getheaders`` with 2,000 headers that do not connect
   (before the fix it held the sync slot for the 600 s stale-tip check);
4. *with a replaying peer*: a synced daemon (restarted on the first run's store) next
   to a scripted peer that answers every
   ``getheaders`` with the same 2,000 headers it already has; the daemon's CPU seconds
   over ``--watch`` seconds (from ``/proc``) and how many ``getheaders`` the peer got
   (before the fix: about 200 a second, 96 % of a core).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from aureond.chain.params import SV_REGTEST
from aureond.devnet import RegtestNode, ensure_node_binaries
from aureond.stress.fakepeer import Behaviour
from bench.bench_sync import mine
from bench.common import markdown_table
from tests.integration.daemon import DaemonProcess, wait_for
from tests.integration.fakepeers import PeerThread, served_from

SYNC_TIMEOUT = 900.0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def _sync_seconds(node: RegtestNode, work: Path, name: str, extra: list[str]) -> float:
    host, port = node.p2p_addr
    best = node.rpc.getbestblockhash()
    daemon = DaemonProcess(work / name, connect=[*extra, f"{host}:{port}"],
                           log_path=work / f"{name}.log")
    started = time.monotonic()
    try:
        daemon.start(wait_ready=False)
        wait_for(lambda: daemon.alive() and (daemon.get("/v1/tip") or (0, {}))[1].get(
            "hash") == best, SYNC_TIMEOUT, "the daemon to reach the node's tip", 0.05)
        return time.monotonic() - started
    finally:
        daemon.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--watch", type=float, default=60.0)
    args = parser.parse_args()
    if not 2_000 <= args.blocks <= 40_000 or not 1 <= args.runs <= 10:
        raise SystemExit("--blocks must be within 2,000..40,000 and --runs 1..10")
    if not 1 <= args.watch <= 600:
        raise SystemExit("--watch must be within 1..600 seconds")
    work = Path(tempfile.mkdtemp(prefix="aureond-bench-hostile-"))
    try:
        with RegtestNode(ensure_node_binaries(), work / "node") as node:
            mine(node, args.blocks)
            honest = [_sync_seconds(node, work, f"honest-{i}", []) for i in range(args.runs)]
            stalled = []
            for i in range(args.runs):
                with PeerThread(SV_REGTEST, Behaviour.UNCONNECTING, claim=100_000) as bad:
                    stalled.append(_sync_seconds(node, work, f"stall-{i}", [bad.address]))
            served = served_from(node, SV_REGTEST, args.blocks)
            host, port = node.p2p_addr
            # A synced store (the first honest run's): near the tip every new peer is
            # asked once, the replayer too.
            with PeerThread(SV_REGTEST, Behaviour.REPLAY, chain=served) as replayer, \
                    DaemonProcess(work / "honest-0", connect=[f"{host}:{port}",
                                                              replayer.address],
                                  log_path=work / "replay.log") as daemon:
                daemon.start()
                wait_for(lambda: replayer.peer.getheaders > 0, 60, "the replayer to be asked")
                assert daemon.proc is not None
                cpu0, asked0 = _cpu_seconds(daemon.proc.pid), replayer.peer.getheaders
                time.sleep(args.watch)
                cpu = _cpu_seconds(daemon.proc.pid) - cpu0
                asked = replayer.peer.getheaders - asked0
                asked_total = replayer.peer.getheaders
                daemon.terminate()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    h, s = statistics.median(honest), statistics.median(stalled)
    print(markdown_table(
        ["what", "result"],
        [[f"sync {args.blocks:,} headers, honest peer only (spawn -> tip, median)",
          f"{h:.2f} s"],
         ["same, with a stalling peer claiming 100,000 more", f"{s:.2f} s ({s / h:.2f}x)"],
         [f"synced daemon next to a replaying peer, {args.watch:.0f} s",
          f"{cpu:.2f} CPU s ({100 * cpu / args.watch:.1f} % of a core); getheaders to "
          f"it: {asked} in the window, {asked_total} in all"]]))
    print(f"runs: honest {[round(x, 2) for x in honest]}, "
          f"stalled {[round(x, 2) for x in stalled]}", file=sys.stderr)


if __name__ == "__main__":
    main()
