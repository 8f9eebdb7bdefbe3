"""Appending headers in wire form (what the sync writer does) and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from aureond.chain.header import BlockHeader
from aureond.errors import StoreError
from tests.store.conftest import open_regtest


def _records(headers: list[BlockHeader]) -> list[tuple[bytes, bytes]]:
    return [(h.serialize(), h.hash) for h in headers]


def test_raw_append_equals_parsed_append(tmp_path: Path, chain: list[BlockHeader]) -> None:
    with open_regtest(tmp_path / "a", chain[0]) as parsed, \
            open_regtest(tmp_path / "b", chain[0]) as raw:
        parsed.append(chain[1:600])
        raw.append_raw(_records(chain[1:600]))
        assert raw.tip_hash == parsed.tip_hash == chain[599].hash
        assert raw.tip_chainwork == parsed.tip_chainwork
        assert raw.header_at(300) == parsed.header_at(300) == chain[300]
        assert raw.height_of(chain[123].hash) == 123
    for name in ("a", "b"):
        with open_regtest(tmp_path / name, chain[0]) as reopened:
            assert reopened.tip_hash == chain[599].hash
            assert reopened.header_at(599) == chain[599]
            assert not reopened.heal_report.reasons


@pytest.mark.parametrize("damage", ["short", "bad-hash-length", "unlinked", "broken-batch"])
def test_raw_append_refuses_and_writes_nothing(tmp_path: Path, chain: list[BlockHeader],
                                                damage: str) -> None:
    records = _records(chain[1:20])
    if damage == "short":
        records[5] = (records[5][0][:79], records[5][1])
    elif damage == "bad-hash-length":
        records[5] = (records[5][0], records[5][1][:31])
    elif damage == "unlinked":
        records = records[1:]
    else:
        del records[7]
    with open_regtest(tmp_path / "s", chain[0]) as store:
        with pytest.raises(StoreError, match="height"):
            store.append_raw(records)
        assert store.tip_height == 0
        store.append_raw(_records(chain[1:20]))
        assert store.tip_hash == chain[19].hash
