"""Hypothesis state machine: append / truncate / flush / reopen against a list model."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from aureond.chain.header import BlockHeader
from aureond.store import HeaderStore
from tests.store.chaingen import REGTEST_WORK, extend, make_genesis
from tests.store.conftest import open_regtest

GENESIS = make_genesis(b"stateful")


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.path = Path(tempfile.mkdtemp(prefix="aureond-store-"))
        self.model: list[BlockHeader] = [GENESIS]
        self.dead: list[BlockHeader] = []
        self.store: HeaderStore = self._open()

    def _open(self) -> HeaderStore:
        # A tiny window and LRU so most reads go to disk.
        return open_regtest(self.path, GENESIS, window=5, lru=3)

    @rule(count=st.integers(1, 40), salt=st.integers(0, 3))
    def append(self, count: int, salt: int) -> None:
        new = extend(self.model[-1], count, salt)
        self.store.append(new)
        self.model.extend(new)

    @rule(depth=st.integers(0, 60))
    def truncate(self, depth: int) -> None:
        height = max(0, len(self.model) - 1 - depth)
        self.store.truncate(height)
        self.dead.extend(self.model[height + 1:])
        del self.model[height + 1:]

    @rule()
    def flush(self) -> None:
        self.store.flush()

    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = self._open()
        assert not self.store.heal_report.healed

    @rule(data=st.data())
    def lookup(self, data: st.DataObject) -> None:
        height = data.draw(st.integers(0, len(self.model) - 1))
        header = self.model[height]
        assert self.store.header_at(height) == header
        assert self.store.hash_at(height) == header.hash
        assert self.store.height_of(header.hash) == height
        assert self.store.chainwork_at(height) == (height + 1) * REGTEST_WORK

    @invariant()
    def tip_matches(self) -> None:
        tip = len(self.model) - 1
        assert self.store.tip_height == tip
        assert self.store.tip_hash == self.model[-1].hash
        assert self.store.tip_chainwork == len(self.model) * REGTEST_WORK
        assert self.store.header_at(tip + 1) is None

    @invariant()
    def dropped_hashes_are_forgotten(self) -> None:
        live = {h.hash for h in self.model}
        for header in self.dead[-5:]:
            if header.hash not in live:
                assert self.store.height_of(header.hash) is None

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.path, ignore_errors=True)


StoreMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=30,
                                          deadline=None)
TestStoreMachine = StoreMachine.TestCase
