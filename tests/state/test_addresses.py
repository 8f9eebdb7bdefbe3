"""Addresses: BIP173/BIP350 and base58check vectors, wrong networks, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aureond.state.addresses import (
    BECH32_CONST,
    BECH32M_CONST,
    address_for_script,
    base58check_decode,
    base58check_encode,
    bech32_decode,
    bech32_encode,
    decode_segwit,
    encode_segwit,
    script_for_address,
    script_kind,
    watch_script,
)
from aureond.state.errors import AddressError
from aureond.state.networks import ADDRESS_PARAMS, AddressParams, address_params

MAIN = ADDRESS_PARAMS["mainnet"]
TEST = ADDRESS_PARAMS["testnet3"]
REG = ADDRESS_PARAMS["regtest"]
SV = ADDRESS_PARAMS["sv-regtest"]


@pytest.mark.parametrize(("text", "const"), [
    ("A12UEL5L", BECH32_CONST),
    ("a12uel5l", BECH32_CONST),
    ("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw", BECH32_CONST),
    ("split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w", BECH32_CONST),
    ("A1LQFN3A", BECH32M_CONST),
    ("abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx", BECH32M_CONST),
    ("split1checkupstagehandshakeupstreamerranterredcaperredlc445v", BECH32M_CONST),
    ("?1v759aa", BECH32M_CONST),
])
def test_bip173_bip350_generic_strings(text: str, const: int) -> None:
    assert bech32_decode(text)[2] == const


@pytest.mark.parametrize("text", [
    "pzry9x0s0muk",          # no separator
    "1pzry9x0s0muk",         # empty HRP
    "x1b4n0q5v",             # invalid data character
    "li1dgmt3",              # checksum too short
    "A1G7SGD8",              # checksum over the upper-case HRP
    "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
])
def test_bip173_invalid_strings(text: str) -> None:
    with pytest.raises(AddressError):
        bech32_decode(text)


@pytest.mark.parametrize(("address", "network", "script_hex", "kind"), [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "mainnet",
     "0014751e76e8199196d454941c45d1b3a323f1433bd6", "p2wpkh"),
    ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", "testnet3",
     "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262", "p2wsh"),
    ("bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y", "mainnet",
     "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6",
     "witness_unknown"),
    ("bc1ph4lmxwklchcvvh2wchzassw86yvahdt902mpe0velxzuz2c70sps70mzj4", "mainnet",
     "5120bd7fb33adfc5f0c65d4ec5c5d841c7d119dbb5657ab61cbd99f985c12b1e7c03", "p2tr"),
    ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "mainnet",
     "76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac", "p2pkh"),
])
def test_address_vectors(address: str, network: str, script_hex: str, kind: str) -> None:
    params = ADDRESS_PARAMS[network]
    script = script_for_address(address, params)
    assert script.hex() == script_hex
    assert script_kind(script) == kind
    expected = address.lower() if address.lower().startswith(("bc1", "tb1")) else address
    assert address_for_script(script, params) == expected


@pytest.mark.parametrize(("item", "params", "message"), [
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", MAIN, "checksum"),
    ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7", TEST, "mixed"),
    ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", MAIN, "checksum"),
    ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", MAIN,
     "testnet3/testnet4/signet address"),
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", REG, "a mainnet address"),
    ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", TEST, "a mainnet address"),
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", SV, "no segwit"),
    # a version 1 program encoded with bech32 instead of bech32m (BIP350)
    (encode_segwit("bc", 0, bytes(32)).replace("bc1q", "bc1p"), MAIN, "checksum"),
    ("zz", MAIN, "base58"),
    ("", MAIN, "non-empty"),
    ("00" * 10_001, MAIN, "at most"),
])
def test_watch_refuses(item: str, params: AddressParams, message: str) -> None:
    with pytest.raises(AddressError, match=message):
        watch_script(item, address_params(params.network))


def test_v1_with_bech32_checksum_is_refused() -> None:
    wrong = bech32_encode("bc", [1, *([0] * 52)], BECH32_CONST)
    with pytest.raises(AddressError, match="bech32m"):
        decode_segwit("bc", wrong)


def test_hex_script_is_watched_as_is() -> None:
    assert watch_script("6a0401020304", MAIN) == bytes.fromhex("6a0401020304")
    assert watch_script("76A914" + "00" * 20 + "88ac", None)[:3] == b"\x76\xa9\x14"


@given(st.binary(min_size=21, max_size=21))
def test_base58check_round_trip(payload: bytes) -> None:
    assert base58check_decode(base58check_encode(payload)) == payload


@given(st.integers(0, 16), st.binary(min_size=2, max_size=40),
       st.sampled_from(["bc", "tb", "bcrt"]))
def test_segwit_round_trip(version: int, program: bytes, hrp: str) -> None:
    if version == 0 and len(program) not in (20, 32):
        return
    assert decode_segwit(hrp, encode_segwit(hrp, version, program)) == (version, program)


@given(st.sampled_from(["p2pkh", "p2sh"]), st.binary(min_size=20, max_size=20),
       st.sampled_from(sorted(ADDRESS_PARAMS)))
def test_base58_addresses_round_trip_per_network(kind: str, body: bytes, network: str) -> None:
    params = ADDRESS_PARAMS[network]
    script = (b"\x76\xa9\x14" + body + b"\x88\xac") if kind == "p2pkh" \
        else (b"\xa9\x14" + body + b"\x87")
    address = address_for_script(script, params)
    assert address is not None
    assert watch_script(address, params) == script
