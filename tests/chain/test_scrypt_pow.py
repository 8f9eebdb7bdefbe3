"""scrypt proof of work (Litecoin): real genesis headers, mined regtest runs, hashers.

Litecoin's regtest target lets about half of all hashes through, so a run of 40
headers mined for scrypt is refused at once by a validator that checks another hash.
"""

from __future__ import annotations

import dataclasses
from hashlib import scrypt

import pytest

from aureond.chain.batch import validate_batch
from aureond.chain.context import genesis_context
from aureond.chain.header import BlockHeader
from aureond.chain.params import LITECOIN, LITECOIN_REGTEST, LITECOIN_TESTNET, NetworkParams
from aureond.chain.pow import scrypt_hash, scrypt_hashes
from aureond.chain.proof import check_header_pow
from aureond.chain.rules import validate_header
from aureond.chain.target import bits_to_target
from aureond.errors import HeaderRejectedError, ProofError
from tests.chain.helpers import FAR_FUTURE

REGTEST_TARGET = bits_to_target(0x207FFFFF)


def _value(h: bytes) -> int:
    return int.from_bytes(h, "little")


@pytest.mark.parametrize("params", [LITECOIN, LITECOIN_TESTNET], ids=lambda p: p.name)
def test_real_genesis_meets_its_target_in_scrypt_not_in_sha256d(params: NetworkParams) -> None:
    g = params.genesis
    target = bits_to_target(g.bits)
    raw = g.serialize()
    # hashlib's scrypt, called the way Litecoin's scrypt_1024_1_1_256 is defined.
    assert scrypt_hash(raw) == scrypt(raw, salt=raw, n=1024, r=1, p=1, dklen=32)
    assert _value(scrypt_hash(raw)) <= target
    assert _value(g.hash) > target  # the block hash is no proof of work here
    check_header_pow(g, params.pow_limit, pow_hash="scrypt")
    with pytest.raises(ProofError, match="sha256d"):
        check_header_pow(g, params.pow_limit)


def _mine(prev: BlockHeader, time: int, *, good_scrypt: bool = True,
          good_sha: bool | None = None, version: int = 0x20000000) -> BlockHeader:
    """A regtest header whose scrypt (and, if asked, double SHA-256) meets the target
    or not, as asked."""
    nonce = 0
    while True:
        h = BlockHeader(version, prev.hash, b"\x05" * 32, time, 0x207FFFFF, nonce)
        ok_scrypt = _value(scrypt_hash(h.serialize())) <= REGTEST_TARGET
        ok_sha = _value(h.hash) <= REGTEST_TARGET
        if ok_scrypt == good_scrypt and (good_sha is None or ok_sha == good_sha):
            return h
        nonce += 1


@pytest.fixture(scope="module")
def regtest_run() -> list[BlockHeader]:
    out = [LITECOIN_REGTEST.genesis]
    for _ in range(40):
        out.append(_mine(out[-1], out[-1].time + 150))
    return out


def _raw(headers: list[BlockHeader]) -> bytes:
    return b"".join(h.serialize() for h in headers)


def test_mined_scrypt_run_accepted(regtest_run: list[BlockHeader]) -> None:
    result = validate_batch(LITECOIN_REGTEST, genesis_context(LITECOIN_REGTEST),
                            _raw(regtest_run[1:]), FAR_FUTURE)
    assert result.context.hash == regtest_run[-1].hash
    assert result.hashes == [h.hash for h in regtest_run[1:]]  # block hashes: sha256d


def test_the_wrong_pow_hash_is_refused_at_once(regtest_run: list[BlockHeader]) -> None:
    as_sha256d = dataclasses.replace(LITECOIN_REGTEST, pow_hash="sha256d")
    with pytest.raises(HeaderRejectedError) as info:
        validate_batch(as_sha256d, genesis_context(as_sha256d), _raw(regtest_run[1:]),
                       FAR_FUTURE)
    assert info.value.reason == "high-hash"


@pytest.mark.parametrize("at", [3, 25])  # on the reference path and on the batch path
def test_header_good_in_sha256d_bad_in_scrypt_is_located(regtest_run: list[BlockHeader],
                                                         at: int) -> None:
    bad = _mine(regtest_run[at - 1], regtest_run[at - 1].time + 150, good_scrypt=False,
                good_sha=True)
    raw = _raw([*regtest_run[1:at], bad])
    with pytest.raises(HeaderRejectedError) as info:
        validate_batch(LITECOIN_REGTEST, genesis_context(LITECOIN_REGTEST), raw, FAR_FUTURE)
    assert (info.value.height, info.value.field, info.value.reason) == (at, "nonce",
                                                                       "high-hash")
    ctx = genesis_context(LITECOIN_REGTEST)
    for h in regtest_run[1:at]:
        ctx = ctx.advance(LITECOIN_REGTEST, h,
                          validate_header(LITECOIN_REGTEST, ctx, h, FAR_FUTURE))
    with pytest.raises(HeaderRejectedError, match="scrypt"):
        validate_header(LITECOIN_REGTEST, ctx, bad, FAR_FUTURE)


def test_an_injected_hasher_is_used_and_agrees(regtest_run: list[BlockHeader]) -> None:
    calls: list[int] = []

    def counting(raw: bytes) -> list[bytes]:
        calls.append(len(raw) // 80)
        return scrypt_hashes(raw)

    fast = LITECOIN_REGTEST.with_pow_hasher(counting)
    assert fast == LITECOIN_REGTEST  # the hasher is not part of the network's identity
    raw = _raw(regtest_run[1:])
    got = validate_batch(fast, genesis_context(fast), raw, FAR_FUTURE)
    want = validate_batch(LITECOIN_REGTEST, genesis_context(LITECOIN_REGTEST), raw,
                          FAR_FUTURE)
    assert got == want
    assert sum(calls) == len(regtest_run) - 1  # each header hashed once

    def short(raw: bytes) -> list[bytes]:
        return scrypt_hashes(raw)[:-1]

    with pytest.raises(ValueError, match="hashes for"):
        validate_batch(LITECOIN_REGTEST.with_pow_hasher(short), genesis_context(fast), raw,
                       FAR_FUTURE)


def test_sha256d_networks_never_call_a_hasher() -> None:
    def boom(raw: bytes) -> list[bytes]:
        raise AssertionError("called")

    regtest = dataclasses.replace(LITECOIN_REGTEST, pow_hash="sha256d").with_pow_hasher(boom)
    assert regtest.pow_function is None
    assert regtest.pow_hash_of(regtest.genesis) == regtest.genesis.hash


@pytest.mark.parametrize("version", [4, 0x1FFFFFFF, -0x7FFFFFFF])
def test_versions_below_version_bits_refused(regtest_run: list[BlockHeader],
                                             version: int) -> None:
    """Litecoin refuses headers below 0x20000000 from its segwit height (0 on regtest);
    the version is signed, so a negative one is below it too."""
    bad = _mine(regtest_run[29], regtest_run[29].time + 150, version=version)
    raw = _raw([*regtest_run[1:30], bad])
    with pytest.raises(HeaderRejectedError) as info:
        validate_batch(LITECOIN_REGTEST, genesis_context(LITECOIN_REGTEST), raw, FAR_FUTURE)
    assert (info.value.height, info.value.reason) == (30, "bad-version")
