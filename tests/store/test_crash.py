"""Kill a real writer process with SIGKILL, many times, and check every reopen.

Each reopen must be consistent (the store opens, heals if needed, and what it holds
is exactly a prefix of the chain the writer was writing) and must keep everything the
writer had seen ``flush()`` (or ``truncate()``) return for. Bounded: 20 kills, half sent by this process
at a random point of the writer's output, half landing inside a random write call.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from pathlib import Path

from aureond.chain.header import BlockHeader
from tests.conftest import ROOT
from tests.store.chaingen import REGTEST_WORK, make_chain
from tests.store.conftest import open_regtest
from tests.store.crash_writer import BUFFERED_CHAIN_LENGTH, CHAIN_LENGTH

KILLS = 20
BUFFERED_KILLS = 8


def _run_writer(path: Path, seed: int, rng: random.Random,
                *, buffered: bool = False) -> tuple[int, int]:
    """Run one writer until it is killed; return (its exit code, last durable height).

    The last flush or truncation the writer saw return fixes the height the store
    must still reach after the kill; a truncation under way when the kill lands may
    have completed, so its target lowers that floor.
    """
    self_kill = seed % 2 == 1
    args = [sys.executable, "-m", "tests.store.crash_writer", str(path), str(seed)]
    if self_kill:
        args.append(str(rng.randrange(1, 60)))
    if buffered:
        args.append("--buffered")
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    flushed = -1
    lines_before_kill = rng.randrange(1, 60)
    try:
        for seen, line in enumerate(proc.stdout):
            kind, _, value = line.partition(" ")
            if kind == "durable":
                flushed = int(value)
            elif kind == "truncating":
                flushed = min(flushed, int(value))
            if not self_kill and seen >= lines_before_kill:
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        if proc.poll() is None and not self_kill:
            proc.send_signal(signal.SIGKILL)
        code = proc.wait(timeout=60)
        proc.stdout.close()
    return code, flushed


def _check_prefix(path: Path, chain: list[BlockHeader], flushed: int) -> bool:
    """Reopen and check the store is a prefix of ``chain``; True when it had to repair."""
    length = len(chain)
    with open_regtest(path, chain[0]) as store:
        tip = store.tip_height
        assert tip >= flushed, f"lost flushed headers: tip {tip} < flushed {flushed}"
        assert store.tip_hash == chain[tip].hash
        assert store.tip_chainwork == (tip + 1) * REGTEST_WORK
        assert list(store.iter_range(0, tip + 1)) == chain[:tip + 1]
        for height in range(max(0, tip - 300), tip + 1):
            assert store.height_of(chain[height].hash) == height
        for height in range(tip + 1, min(length, tip + 300)):
            assert store.height_of(chain[height].hash) is None
        for height in range(0, tip + 1, 37):  # the table, below and above its watermark
            assert store.height_of(chain[height].hash) == height
        report = store.heal_report
        return report.healed or report.hash_index_replayed > 0


def test_sigkill_at_random_points_always_reopens_to_a_prefix(tmp_path: Path) -> None:
    chain = make_chain(CHAIN_LENGTH)
    rng = random.Random(20240601)
    killed = healed = 0
    for seed in range(KILLS):
        code, flushed = _run_writer(tmp_path, seed, rng)
        if code == -signal.SIGKILL:
            killed += 1
        else:
            assert code == 0, f"writer {seed} failed with exit code {code}"
        healed += _check_prefix(tmp_path, chain, flushed)
    assert killed >= KILLS - 2
    assert healed >= 1, "no kill ever tore the tail; the test provoked nothing"


def test_sigkill_with_buffered_hash_inserts_always_reopens_to_a_prefix(
        tmp_path: Path) -> None:
    """The same with a table whose inserts wait in memory (two regions, placed and
    torn now and then) and sync tickets that leave the buffer be: every kill reopens
    to a prefix that finds every hash, with nothing flushed lost."""
    chain = make_chain(BUFFERED_CHAIN_LENGTH)
    rng = random.Random(20250101)
    killed = replayed = 0
    for seed in range(BUFFERED_KILLS):
        code, flushed = _run_writer(tmp_path, seed, rng, buffered=True)
        if code == -signal.SIGKILL:
            killed += 1
        else:
            assert code == 0, f"writer {seed} failed with exit code {code}"
        replayed += _check_prefix(tmp_path, chain, flushed)
    assert killed >= BUFFERED_KILLS - 1
    assert replayed >= 1, "no kill left buffered inserts to replay; nothing was provoked"
