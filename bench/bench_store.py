"""Header store benchmark: a synthetic 1,000,000-header chain, end to end.

Run by hand: ``.venv/bin/python -m bench.bench_store [--count N] [--dir DIR] [--keep]``.

1. mines a linked regtest chain (bits 0x207fffff: ~2 nonces per header) in batches
   of 2,000 and appends it with the default fsync policy (every 2,000 headers);
   reports append throughput and the writer's RSS;
2. in a fresh process: open-to-ready time, RSS after open, random lookups by height
   and by hash (latency, RSS after);
3. tears the tail (a partial header record and a longer index) and measures the
   open that heals it, again in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aureond.store import FsyncPolicy, HeaderStore
from aureond.stress.chaingen import REGTEST_WORK, extend, make_genesis

BATCH = 2000
LOOKUPS = 20_000


def _rss_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MB, from /proc/self/status."""
    fields: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def _open(path: Path) -> HeaderStore:
    return HeaderStore.open(path, network_id="regtest", genesis_or_anchor=make_genesis(),
                            anchor_height=0, anchor_chainwork=REGTEST_WORK,
                            fsync_policy=FsyncPolicy(every_n_headers=BATCH,
                                                     every_seconds=None))


def build(path: Path, count: int) -> dict[str, float]:
    store = _open(path)
    mine_s = append_s = 0.0
    parent = make_genesis()
    while store.tip_height < count - 1:
        t0 = time.perf_counter()
        batch = extend(parent, min(BATCH, count - 1 - store.tip_height))
        t1 = time.perf_counter()
        store.append(batch)
        append_s += time.perf_counter() - t1
        mine_s += t1 - t0
        parent = batch[-1]
    t2 = time.perf_counter()
    store.close()
    append_s += time.perf_counter() - t2
    rss, hwm = _rss_mb()
    return {"headers": count, "mine_s": mine_s, "append_s": append_s,
            "append_per_s": (count - 1) / append_s, "writer_rss_mb": rss,
            "writer_hwm_mb": hwm}


def probe(path: Path) -> dict[str, object]:
    """Runs in a fresh process: open, look things up, report times and memory."""
    rss0, _ = _rss_mb()
    t0 = time.perf_counter()
    store = _open(path)
    open_s = time.perf_counter() - t0
    rss_open, _ = _rss_mb()
    rng = random.Random(7)
    tip = store.tip_height
    heights = [rng.randrange(tip + 1) for _ in range(LOOKUPS)]
    t1 = time.perf_counter()
    hashes = []
    for h in heights:
        header = store.header_at(h)
        if header is None:
            raise SystemExit(f"header {h} missing")
        hashes.append(header.hash)
    by_height_us = (time.perf_counter() - t1) / LOOKUPS * 1e6
    t2 = time.perf_counter()
    for h, block_hash in zip(heights, hashes, strict=True):
        if store.height_of(block_hash) != h:
            raise SystemExit(f"height_of wrong at {h}")
    by_hash_us = (time.perf_counter() - t2) / LOOKUPS * 1e6
    t3 = time.perf_counter()
    for _ in range(1000):
        store.height_of(rng.randbytes(32))
    miss_us = (time.perf_counter() - t3) / 1000 * 1e6
    rss_end, hwm = _rss_mb()
    report = store.heal_report
    store.close()
    return {"tip": tip, "open_s": open_s, "rss_before_open_mb": rss0,
            "rss_after_open_mb": rss_open, "rss_after_lookups_mb": rss_end, "hwm_mb": hwm,
            "header_at_us": by_height_us, "height_of_us": by_hash_us,
            "height_of_miss_us": miss_us, "healed": report.healed,
            "dropped": report.dropped_headers, "reasons": list(report.reasons),
            "replayed": report.hash_index_replayed}


def _probe_fresh(path: Path) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-m", "bench.bench_store", "--probe", str(path)],
                         check=True, capture_output=True, text=True)
    result: dict[str, object] = json.loads(out.stdout)
    return result


def tear(path: Path) -> None:
    """A kill in mid-append: half a header record more, two index records fewer."""
    with (path / "headers.dat").open("ab") as f:
        f.write(b"\x01" * 40)
    index = path / "index.dat"
    with index.open("r+b") as f:
        f.truncate(index.stat().st_size - 2 * 64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe is not None:
        print(json.dumps(probe(args.probe)))
        return
    path = args.dir or Path(tempfile.mkdtemp(prefix="aureond-bench-"))
    try:
        built = build(path, args.count)
        print(f"built {args.count:,} headers: mined in {built['mine_s']:.1f} s, appended in "
              f"{built['append_s']:.1f} s = {built['append_per_s']:,.0f} headers/s "
              f"(fsync every {BATCH}); writer RSS {built['writer_rss_mb']:.1f} MB "
              f"(peak {built['writer_hwm_mb']:.1f} MB)")
        sizes = {p.name: p.stat().st_size / 1e6 for p in sorted(path.iterdir())}
        print("files (MB): " + ", ".join(f"{k} {v:.1f}" for k, v in sizes.items()))
        clean = _probe_fresh(path)
        print(f"fresh process: open-to-ready {clean['open_s']:.3f} s; RSS before open "
              f"{clean['rss_before_open_mb']:.1f} MB, after open "
              f"{clean['rss_after_open_mb']:.1f} MB, after {LOOKUPS:,} random lookups "
              f"{clean['rss_after_lookups_mb']:.1f} MB (peak {clean['hwm_mb']:.1f} MB); "
              f"header_at {clean['header_at_us']:.1f} us, height_of "
              f"{clean['height_of_us']:.1f} us, miss {clean['height_of_miss_us']:.1f} us")
        tear(path)
        healed = _probe_fresh(path)
        print(f"torn tail: open with heal {healed['open_s']:.3f} s, healed={healed['healed']} "
              f"dropped={healed['dropped']} replayed={healed['replayed']} tip={healed['tip']}; "
              f"{healed['reasons']}")
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
