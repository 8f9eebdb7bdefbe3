"""Headers presync: commitments, the redownload check, the bounds."""

from __future__ import annotations

import dataclasses

import pytest

from aureond.chain.context import genesis_context
from aureond.chain.header import BlockHeader
from aureond.chain.params import REGTEST
from aureond.chain.presync import (
    COMMITMENT_PERIOD,
    HeadersPresync,
    Phase,
    PresyncMismatchError,
)
from aureond.chain.target import work_from_bits
from aureond.errors import HeaderRejectedError
from tests.chain.helpers import FAR_FUTURE, chain_of, mine_bad_pow

WORK = work_from_bits(REGTEST.genesis.bits)
NOW = FAR_FUTURE


def _raw(headers: list[BlockHeader]) -> bytes:
    return b"".join(h.serialize() for h in headers)


def _presync(target_headers: int, **kw: object) -> HeadersPresync:
    start = genesis_context(REGTEST)
    return HeadersPresync(REGTEST, start, start.chainwork + target_headers * WORK,
                          salt=b"s" * 16, offset=7, now=NOW, **kw)  # type: ignore[arg-type]


def _run(n: int, salt: int) -> list[BlockHeader]:
    return chain_of(REGTEST, REGTEST.genesis, n, salt=salt)


def test_presync_keeps_no_header_then_the_redownload_releases_them_all() -> None:
    chain = _run(3000, 1)
    p = _presync(2500)
    fed = p.feed(_raw(chain[:2000]), NOW)
    assert (fed.phase, fed.released, fed.ask_from) == (Phase.PRESYNC, b"", chain[1999].hash)
    assert p.memory_bytes() < 1024 + 2000 // COMMITMENT_PERIOD + 8
    fed = p.feed(_raw(chain[2000:3000]), NOW)
    assert fed.phase is Phase.REDOWNLOAD
    assert fed.ask_from == REGTEST.genesis.hash  # ask again from the fork point
    fed = p.feed(_raw(chain[:2000]), NOW)
    assert (fed.phase, fed.released) == (Phase.REDOWNLOAD, b"")  # held in the buffer
    assert p.buffered == 2000
    fed = p.feed(_raw(chain[2000:3000]), NOW)
    assert fed.phase is Phase.DONE
    assert fed.released == _raw(chain)
    assert fed.released_parent == REGTEST.genesis.hash
    with pytest.raises(ValueError, match="done"):
        p.feed(b"", NOW)


def test_the_buffer_releases_its_front_once_full() -> None:
    chain = _run(3000, 2)
    p = _presync(3000, buffer=500)
    p.feed(_raw(chain[:2000]), NOW)
    p.feed(_raw(chain[2000:]), NOW)
    fed = p.feed(_raw(chain[:2000]), NOW)
    assert fed.released == _raw(chain[:1500])
    assert fed.released_parent == REGTEST.genesis.hash
    assert p.buffered == 500
    fed = p.feed(_raw(chain[2000:]), NOW)
    assert fed.released == _raw(chain[1500:])
    assert fed.released_parent == chain[1499].hash


def test_a_different_chain_on_the_redownload_is_caught() -> None:
    shown, served = _run(3000, 3), _run(3000, 4)
    for offset in range(8):
        start = genesis_context(REGTEST)
        p = HeadersPresync(REGTEST, start, start.chainwork + 3000 * WORK,
                           salt=bytes([offset]) * 16, offset=offset, now=NOW, period=100)
        p.feed(_raw(shown[:2000]), NOW)
        p.feed(_raw(shown[2000:]), NOW)
        # 30 commitment bits each: a miss would be a 2**-30 event.
        with pytest.raises(PresyncMismatchError) as err:
            p.feed(_raw(served[:2000]) + _raw(served[2000:]), NOW)
        assert err.value.reason == "presync-mismatch"


def test_a_redownload_that_stops_short_of_the_work_is_a_mismatch() -> None:
    chain = _run(2500, 5)
    p = _presync(2400)
    p.feed(_raw(chain[:2000]), NOW)
    p.feed(_raw(chain[2000:]), NOW)
    p.feed(_raw(chain[:2000]), NOW)
    # Headers past what was presynced, with less work than it showed: another chain.
    other = chain_of(REGTEST, chain[1999], 600, salt=6, spacing=601)
    with pytest.raises(PresyncMismatchError):
        p.feed(_raw(other[:500]) + _raw(other[500:]), NOW)


def test_an_invalid_header_is_refused_and_changes_nothing() -> None:
    chain = _run(100, 7)
    bad = mine_bad_pow(chain[49].hash, chain[49].time + 600, chain[49].bits)
    p = _presync(1000)
    with pytest.raises(HeaderRejectedError) as err:
        p.feed(_raw(chain[:50]) + bad.serialize(), NOW)
    assert err.value.reason == "high-hash"
    assert p.presync_height == 0
    assert p.feed(_raw(chain[:50]), NOW).ask_from == chain[49].hash


def test_more_headers_than_time_allows_are_refused() -> None:
    params = dataclasses.replace(REGTEST, max_future_seconds=60)
    chain = chain_of(params, params.genesis, 1300, salt=8, spacing=1)
    start = genesis_context(params)
    # "now" one minute after genesis, a one-minute future limit: a chain can have grown
    # by at most 6 headers a second for two minutes, 720 headers, not 1,300.
    p = HeadersPresync(params, start, 1 << 255, salt=b"x" * 16, offset=0,
                       now=params.genesis.time + 60, period=10)
    with pytest.raises(HeaderRejectedError) as err:
        p.feed(_raw(chain[:1300]), FAR_FUTURE)
    assert err.value.reason == "presync-too-long"
