"""scrypt proof of work (Litecoin): headers/s on one core and on every core.

Run: ``.venv/bin/python -m bench.bench_scrypt [--headers 2000] [--repeats 5]``.

Mines a Litecoin-regtest run (its target lets about half of all scrypt hashes
through), then measures, as medians, headers per second of wall time and per second
of CPU time (all threads of the process; on a machine shared with other work the CPU
figure is the steadier one, the wall figure shows what the second core brings):

* the bare ``hashlib.scrypt`` loop (the floor on one core);
* ``PowPool`` with 1 and with 2 workers (``hashlib.scrypt`` releases the GIL);
* full ``validate_batch`` of the run as 2,000-header messages with the reference
  hasher (one core) and with the pool;
* the node's way: ``SCRYPT_HEADERS_PER_STEP`` headers per event-loop turn on the pool,
  with the longest step (how long the loop is held at most).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import time
from collections.abc import Callable

from aureond.chain.batch import validate_batch
from aureond.chain.context import genesis_context
from aureond.chain.header import HEADER_SIZE, BlockHeader
from aureond.chain.params import LITECOIN_REGTEST
from aureond.chain.pow import scrypt_hash, scrypt_hashes
from aureond.chain.target import bits_to_target
from aureond.service.powpool import SCRYPT_HEADERS_PER_STEP, PowPool
from bench.common import markdown_table

NOW = 4_000_000_000
MESSAGE = 2000


def _mine(count: int) -> bytes:
    target = bits_to_target(0x207FFFFF)
    prev = LITECOIN_REGTEST.genesis
    out = []
    for _ in range(count):
        nonce = 0
        while True:
            h = BlockHeader(0x20000000, prev.hash, b"\x07" * 32, prev.time + 150, 0x207FFFFF,
                            nonce)
            raw = h.serialize()
            if int.from_bytes(scrypt_hash(raw), "little") <= target:
                break
            nonce += 1
        out.append(raw)
        prev = h
    return b"".join(out)


def _floor(body: bytes) -> int:
    s = hashlib.scrypt
    for o in range(0, len(body), HEADER_SIZE):
        r = body[o:o + HEADER_SIZE]
        s(r, salt=r, n=1024, r=1, p=1, dklen=32)
    return len(body) // HEADER_SIZE


def _validate(body: bytes, pool: PowPool | None, step: int) -> tuple[int, float]:
    params = LITECOIN_REGTEST if pool is None else LITECOIN_REGTEST.with_pow_hasher(pool)
    ctx = genesis_context(params)
    longest = 0.0
    for o in range(0, len(body), step * HEADER_SIZE):
        t = time.perf_counter()
        ctx = validate_batch(params, ctx, body[o:o + step * HEADER_SIZE], NOW).context
        longest = max(longest, time.perf_counter() - t)
    assert ctx.height == len(body) // HEADER_SIZE
    return ctx.height, longest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--headers", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    body = _mine(args.headers)
    n = len(body) // HEADER_SIZE
    rows: list[tuple[str, str, str, str]] = []

    def row(what: str, fn: Callable[[], int], longest: float | None = None) -> None:
        wall, cpu = [], []
        for _ in range(args.repeats):
            w, c = time.perf_counter(), time.process_time()
            count = fn()
            wall.append(count / (time.perf_counter() - w))
            cpu.append(count / (time.process_time() - c))
        rows.append((what, f"{statistics.median(wall):,.0f}", f"{statistics.median(cpu):,.0f}",
                     "" if longest is None else f"{longest * 1e3:.1f}"))

    row("hashlib.scrypt loop (floor, 1 thread)", lambda: _floor(body))
    with PowPool(scrypt_hashes, 1) as one, PowPool(scrypt_hashes, 2) as two:
        assert two(body) == scrypt_hashes(body)
        row("PowPool, 1 worker", lambda: len(one(body)))
        row("PowPool, 2 workers", lambda: len(two(body)))
        row(f"validate_batch, {MESSAGE}-header messages, 1 core",
            lambda: _validate(body, None, MESSAGE)[0])
        row(f"validate_batch, {MESSAGE}-header messages, PowPool(2)",
            lambda: _validate(body, two, MESSAGE)[0])
        steps = [_validate(body, two, SCRYPT_HEADERS_PER_STEP)[1] for _ in range(3)]
        row(f"validate_batch, {SCRYPT_HEADERS_PER_STEP} headers per step, PowPool(2)",
            lambda: _validate(body, two, SCRYPT_HEADERS_PER_STEP)[0], max(steps))
    load = os.getloadavg()[0]
    print(f"{n:,} Litecoin-regtest headers, {os.cpu_count()} cores, medians of "
          f"{args.repeats} runs, load average {load:.2f} at the end\n")
    print(markdown_table(["what", "headers/s (wall)", "headers per CPU-second",
                          "longest step (ms)"], rows))


if __name__ == "__main__":
    main()
