"""BIP158 filter matching throughput: ``python -m bench.bench_filters [options]``.

Builds ``--distinct`` basic filters the size of a mainnet block's (``--elements``
scripts each, give or take 6 %, random 20-40 byte scripts, random block keys) and a
watch list of ``--watched`` random 20-40 byte scripts; one watched script is planted in
every 50th filter. Then measures on one core, over ``--repeats`` runs, the CPU time
of this process (best and median run; the median wall time follows in brackets):

* ``match_filters``: a batch of ``--filters`` filters (cycling through the distinct
  ones) against the watch list, in filters/s; and its two parts alone, hashing the
  watch list under every filter's key (``QuerySet.targets``) and decoding the filters
  (``golomb.decode_groups``);
* one filter at a time (``GCSFilter.match_any`` with a prepared ``QuerySet``);
* for scale, a plain Python Golomb-Rice decoder (a bit reader over the bytes) on a
  few filters.

Every planted filter must match; a filter that matches without a planted script must
be a real false positive (one of the watched scripts hashes onto one of its values,
checked one script at a time with the scalar SipHash), of which there are about
``distinct * watched / 784931``; exit 1 otherwise.

    .venv/bin/python -m bench.bench_filters [--filters 1024] [--distinct 64]
        [--elements 8500] [--watched 1000] [--repeats 5] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aureond.chain import golomb
from aureond.chain.blockfilter import BASIC_PARAMS
from aureond.chain.gcs import GCSFilter, QuerySet, match_filters
from bench.common import markdown_table

__all__ = ["main", "run"]


def _scripts(rng: np.random.Generator, count: int) -> list[bytes]:
    return [rng.bytes(int(n)) for n in rng.integers(20, 41, count)]


def _timed(fn: Callable[[], object], repeats: int) -> tuple[float, float, float]:
    """Best and median CPU seconds (this process only) and median wall seconds of ``fn``.

    CPU time is what one core spends; on a shared machine the wall time also holds
    the time other processes had the core, and even CPU time moves with what the other
    core runs (shared caches), so the best of several runs is the least disturbed."""
    cpu, wall = [], []
    for _ in range(repeats):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
    return min(cpu), statistics.median(cpu), statistics.median(wall)


def plain_python_decode(stream: bytes, n: int, p: int) -> list[int]:
    """A straightforward Golomb-Rice decoder: a bit reader over the bytes."""
    data = iter(stream)
    acc, have = 0, 0
    mask = (1 << p) - 1
    value, out = 0, []
    for _ in range(n):
        q = 0
        while True:
            if have == 0:
                acc, have = next(data), 8
            have -= 1
            if not (acc >> have) & 1:
                break
            q += 1
        while have < p:
            acc, have = ((acc & ((1 << have) - 1)) << 8) | next(data), have + 8
        have -= p
        value += (q << p) | ((acc >> have) & mask)
        out.append(value)
    return out


def run(filters: int, distinct: int, elements: int, watched: int, repeats: int,
        seed: int = 158) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    watch = _scripts(rng, watched)
    built_at = time.perf_counter()
    base: list[GCSFilter] = []
    planted: list[bool] = []
    for i in range(distinct):
        members = _scripts(rng, int(rng.integers(elements * 94 // 100,
                                                 elements * 106 // 100 + 1)))
        if i % 50 == 0:
            members.append(watch[i % watched])
        base.append(GCSFilter.build(BASIC_PARAMS, rng.bytes(16), members))
        planted.append(i % 50 == 0)
    build_s = (time.perf_counter() - built_at) / distinct
    batch = [base[i % distinct] for i in range(filters)]
    expected = [planted[i % distinct] for i in range(filters)]
    queries = QuerySet.of(watch)
    streams = [(f.stream, f.n) for f in batch]

    answers: list[bool] = []

    def batch_match() -> None:
        answers[:] = match_filters(batch, queries)

    def decode_only() -> None:
        for _ in golomb.decode_groups(streams, BASIC_PARAMS.p):
            pass

    single = batch[:max(1, min(64, filters))]

    def one_at_a_time() -> None:
        for f in single:
            f.match_any(queries)

    plain = batch[:8]

    def plain_decode() -> None:
        for f in plain:
            plain_python_decode(f.stream, f.n, BASIC_PARAMS.p)

    match_s = _timed(batch_match, repeats)
    planted_found = all(answers[i] for i in range(filters) if expected[i])
    consistent = all(answers[i] == answers[i % distinct] for i in range(filters))
    extra = [i for i in range(distinct) if answers[i] and not planted[i]]
    confirmed = [i for i in extra if any(base[i].match(w) for w in watch)]
    hash_s = _timed(lambda: queries.targets(batch), repeats)
    decode_s = _timed(decode_only, repeats)
    single_s = _timed(one_at_a_time, repeats)
    plain_s = _timed(plain_decode, repeats)
    check = [int(v) for v in base[0].values()] == plain_python_decode(
        base[0].stream, base[0].n, BASIC_PARAMS.p)
    mean_n = sum(f.n for f in batch) / len(batch)
    mean_bytes = sum(len(f.stream) for f in batch) / len(batch)

    def rate(count: int, seconds: tuple[float, float, float]) -> str:
        best, median, wall = (count / s for s in seconds)
        return f"{best:,.0f} best, {median:,.0f} median ({wall:,.0f} wall)"

    return {
        "filters": filters,
        "distinct filters": distinct,
        "elements per filter (mean)": round(mean_n),
        "filter bytes (mean)": round(mean_bytes),
        "watched scripts": len(queries),
        "match_filters, filters/s": rate(filters, match_s),
        "  hashing the watch list, filters/s": rate(filters, hash_s),
        "  decoding, filters/s": rate(filters, decode_s),
        "one filter at a time (match_any), filters/s": rate(len(single), single_s),
        "plain Python decoder, filters/s": rate(len(plain), plain_s),
        "build one filter, ms": round(build_s * 1e3, 1),
        "planted scripts found": planted_found and consistent,
        "false positives (each confirmed)": f"{len(confirmed)} of {len(extra)}",
        "decoders agree": check,
        "load average (1 min) at the end": round(os.getloadavg()[0], 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--filters", type=int, default=1024)
    parser.add_argument("--distinct", type=int, default=64)
    parser.add_argument("--elements", type=int, default=8500)
    parser.add_argument("--watched", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=158)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = run(args.filters, args.distinct, args.elements, args.watched, args.repeats,
                 args.seed)
    print(markdown_table(["measure", "value"], list(result.items())))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))
    fp_confirmed, fp_reported = result["false positives (each confirmed)"].split(" of ")
    ok = (result["planted scripts found"] and result["decoders agree"]
          and fp_confirmed == fp_reported)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
