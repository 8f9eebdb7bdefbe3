"""SipHash-2-4: the reference vectors, and the vector form against the scalar one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aureond.chain.siphash import SipMessages, siphash24, siphash24_keys, split_key

# The 64 vectors published with the SipHash reference implementation (vectors.h,
# ``vectors_sip64``): key 00 01 .. 0f, message i = the bytes 00 01 .. (i - 1), output
# as its 8 little-endian bytes.
REFERENCE = [
    "310e0edd47db6f72", "fd67dc93c539f874", "5a4fa9d909806c0d", "2d7efbd796666785",
    "b7877127e09427cf", "8da699cd64557618", "cee3fe586e46c9cb", "37d1018bf50002ab",
    "6224939a79f5f593", "b0e4a90bdf82009e", "f3b9dd94c5bb5d7a", "a7ad6b22462fb3f4",
    "fbe50e86bc8f1e75", "903d84c02756ea14", "eef27a8e90ca23f7", "e545be4961ca29a1",
    "db9bc2577fcc2a3f", "9447be2cf5e99a69", "9cd38d96f0b3c14b", "bd6179a71dc96dbb",
    "98eea21af25cd6be", "c7673b2eb0cbf2d0", "883ea3e395675393", "c8ce5ccd8c030ca8",
    "94af49f6c650adb8", "eab8858ade92e1bc", "f315bb5bb835d817", "adcf6b0763612e2f",
    "a5c91da7acaa4dde", "716595876650a2a6", "28ef495c53a387ad", "42c341d8fa92d832",
    "ce7cf2722f512771", "e37859f94623f3a7", "381205bb1ab0e012", "ae97a10fd434e015",
    "b4a31508beff4d31", "81396229f0907902", "4d0cf49ee5d4dcca", "5c73336a76d8bf9a",
    "d0a704536ba93e0e", "925958fcd6420cad", "a915c29bc8067318", "952b79f3bc0aa6d4",
    "f21df2e41d4535f9", "87577519048f53a9", "10a56cf5dfcd9adb", "eb75095ccd986cd0",
    "51a9cb9ecba312e6", "96afadfc2ce666c7", "72fe52975a4364ee", "5a1645b276d592a1",
    "b274cb8ebf87870a", "6f9bb4203de7b381", "eaecb2a30b22a87f", "9924a43cc1315724",
    "bd838d3aafbf8db7", "0b1a2a3265d51aea", "135079a3231ce660", "932b2846e4d70666",
    "e1915f5cb1eca46c", "f325965ca16d629f", "575ff28e60381be5", "724506eb4c328a95",
]
KEY = bytes(range(16))
MESSAGES = [bytes(range(i)) for i in range(64)]


def _expected(i: int) -> int:
    return int.from_bytes(bytes.fromhex(REFERENCE[i]), "little")


def test_reference_vectors_scalar() -> None:
    assert len(REFERENCE) == 64
    for i, message in enumerate(MESSAGES):
        assert siphash24(KEY, message) == _expected(i), i


def test_reference_vectors_vectorized() -> None:
    # Every length from 0 to 63 bytes: 1 to 8 blocks, so every prefix slice is used.
    hashed = siphash24_keys([KEY], SipMessages.of(MESSAGES))
    assert hashed.shape == (1, 64)
    assert [int(h) for h in hashed[0]] == [_expected(i) for i in range(64)]


def test_key_halves_are_little_endian() -> None:
    assert split_key(KEY) == (0x0706050403020100, 0x0F0E0D0C0B0A0908)
    with pytest.raises(ValueError, match="16 bytes"):
        split_key(bytes(15))


@settings(max_examples=60, deadline=None)
@given(messages=st.lists(st.binary(max_size=70), max_size=40),
       keys=st.lists(st.binary(min_size=16, max_size=16), min_size=1, max_size=5))
def test_vectorized_equals_scalar(messages: list[bytes], keys: list[bytes]) -> None:
    hashed = siphash24_keys(keys, SipMessages.of(messages))
    assert hashed.shape == (len(keys), len(messages))
    for j, key in enumerate(keys):
        assert [int(h) for h in hashed[j]] == [siphash24(key, m) for m in messages]


def test_many_keys_span_several_tiles() -> None:
    rng = np.random.default_rng(11)
    messages = [rng.bytes(int(n)) for n in rng.integers(20, 41, 300)]
    keys = [rng.bytes(16) for _ in range(70)]     # 300 x 70 lanes: three tiles
    hashed = siphash24_keys(keys, SipMessages.of(messages))
    for j in (0, 27, 28, 69):
        for i in (0, 150, 299):
            assert int(hashed[j, i]) == siphash24(keys[j], messages[i])


def test_empty_inputs() -> None:
    assert siphash24_keys([KEY], SipMessages.of([])).shape == (1, 0)
    assert siphash24_keys([], SipMessages.of([b"a"])).shape == (0, 1)
