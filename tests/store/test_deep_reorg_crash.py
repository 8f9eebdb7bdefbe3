"""kill -9 at every step of a deep reorg: the store opens, on one chain or the other,
never a mix, and from the commit record on it is the heavier one."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

from aureond.store.forkfile import COMMIT_FILE
from tests.store.reorg_crasher import BRANCH, MAIN, branch_chain, main_chain, open_chain

ROOT = Path(__file__).resolve().parents[2]


def _crash(path: Path, die_at: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tests.store.reorg_crasher", str(path),
                           str(die_at)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)


def _which_chain(path: Path) -> str:
    chain = open_chain(path)
    try:
        tip = chain.tip_height
        headers = main_chain() if tip == MAIN else branch_chain()
        assert tip in (MAIN, BRANCH), tip
        for h in (1, 1000, 2026, tip - 1, tip):
            assert chain.hash_at(h) == headers[h - 1].hash, h
        assert chain.tip_hash == headers[-1].hash
        assert not (path / COMMIT_FILE).exists()
        assert not list(path.glob("fork-*.dat"))
        return "branch" if tip == BRANCH else "main"
    finally:
        chain.close()


def test_kill_at_every_step_of_a_deep_reorg_leaves_one_whole_chain(tmp_path: Path) -> None:
    pristine = tmp_path / "pristine"
    chain = open_chain(pristine)
    chain.add(b"".join(h.serialize() for h in main_chain()), 4_000_000_000)
    chain.close()

    done = tmp_path / "done"
    shutil.copytree(pristine, done)
    full = _crash(done, 0)
    assert full.returncode == 0, full.stderr
    operations = int(full.stdout.split()[-1])
    assert _which_chain(done) == "branch"

    outcomes: list[str] = []
    points = sorted({1, 2, 3, *range(4, operations + 1, max(1, operations // 10)),
                     operations - 2, operations - 1, operations})
    for die_at in points:
        run = tmp_path / f"kill-{die_at}"
        shutil.copytree(pristine, run)
        result = _crash(run, die_at)
        assert result.returncode == -signal.SIGKILL, (die_at, result.stderr)
        outcomes.append(_which_chain(run))
    # Early kills keep the old chain, late ones the new; once the commit record is
    # written the heavier chain wins, so the outcomes never go back to "main".
    assert outcomes[0] == "main"
    assert outcomes[-1] == "branch"
    first_branch = outcomes.index("branch")
    assert all(o == "branch" for o in outcomes[first_branch:]), outcomes
