"""An fsync taken off the store's thread (SyncTicket): what it claims, and when not."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from aureond.chain.header import BlockHeader
from tests.store.chaingen import make_chain
from tests.store.conftest import durable_records, fill, open_regtest


def test_fsync_in_a_thread_while_appending_claims_only_what_it_counted(
        tmp_path: Path, chain: list[BlockHeader]) -> None:
    with open_regtest(tmp_path / "s", chain[0]) as store:
        fill(store, chain[1:400])
        ticket = store.begin_sync()
        assert ticket.count == 400  # genesis + 399
        worker = threading.Thread(target=ticket.fsync)
        worker.start()
        fill(store, chain[400:700])  # appends go on during the fsync
        worker.join()
        assert store.finish_sync(ticket)
        assert ticket.fds == []  # descriptors released
    # the watermark says 400 on disk; a reopen replays the other 300 and finds all
    assert durable_records(tmp_path / "s") >= 400
    with open_regtest(tmp_path / "s", chain[0]) as again:
        assert again.tip_height == 699
        assert again.height_of(chain[650].hash) == 650
        assert again.height_of(chain[123].hash) == 123


def test_a_truncation_during_the_fsync_claims_nothing(tmp_path: Path,
                                                       chain: list[BlockHeader]) -> None:
    with open_regtest(tmp_path / "s", chain[0]) as store:
        fill(store, chain[1:500])
        store.flush()
        before = store.begin_sync()
        fill(store, chain[500:600])
        ticket = store.begin_sync()
        ticket.fsync()
        store.truncate(450)  # a reorg while the fsync ran
        assert not store.finish_sync(ticket)
        assert not store.finish_sync(before)
        # the cut store keeps working and the next sync claims the new tip
        fill(store, chain[451:520])
        ticket = store.begin_sync()
        ticket.fsync()
        assert store.finish_sync(ticket)
    with open_regtest(tmp_path / "s", chain[0]) as again:
        assert again.tip_hash == chain[519].hash
        assert again.height_of(chain[560].hash) is None
        assert again.height_of(chain[500].hash) == 500


def test_a_table_rebuild_during_the_fsync_claims_nothing(tmp_path: Path) -> None:
    chain = make_chain(2500)
    with open_regtest(tmp_path / "s", chain[0]) as store:
        fill(store, chain[1:100])
        ticket = store.begin_sync()
        size_before = os.path.getsize(tmp_path / "s" / "hashidx.dat")
        fill(store, chain[100:2500])  # past half of the 4,096-slot table: rebuilt
        assert os.path.getsize(tmp_path / "s" / "hashidx.dat") > size_before
        ticket.fsync()  # the duplicated descriptor still names the old, replaced file
        assert not store.finish_sync(ticket)
        assert store.height_of(chain[2400].hash) == 2400


def test_a_closed_store_claims_nothing_and_releases_the_descriptors(
        tmp_path: Path, chain: list[BlockHeader]) -> None:
    store = open_regtest(tmp_path / "s", chain[0])
    fill(store, chain[1:50])
    ticket = store.begin_sync()
    assert len(ticket.fds) == 3
    store.close()
    ticket.fsync()  # its own descriptors outlive the store's
    assert not store.finish_sync(ticket)
    assert ticket.fds == []
