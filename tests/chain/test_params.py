"""Networks as data: built-in genesis hashes and TOML profiles refused by field."""

from __future__ import annotations

import dataclasses

import pytest

from aureond.chain.header import BlockHeader
from aureond.chain.params import NETWORKS, get_network
from aureond.chain.pow import scrypt_hash
from aureond.chain.profile import params_from_toml
from aureond.chain.target import bits_to_target
from aureond.errors import ConfigError

GENESIS = {
    "mainnet": "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
    "testnet3": "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
    "testnet4": "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043",
    "signet": "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6",
    "regtest": "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
    "sv-regtest": "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
    "litecoin": "12a765e31ffd4059bada1e25190f6e98c99d9714d334efa41a195a7e7e04bfe2",
    "litecoin-testnet": "4966625a4b2851d9fdee139e56211a0d88575f59ed816ff5e6a63deb4e3e29a0",
    "litecoin-regtest": "530827f38f93b43ed12af0b3ad25a288dc02ed74d6d7857862df51fc56c416f9",
}


@pytest.mark.parametrize("name", sorted(GENESIS))
def test_builtin_genesis_hashes(name: str) -> None:
    params = get_network(name)
    assert params.genesis.hash_hex == GENESIS[name]
    # The genesis meets its own proof of work, in the network's PoW hash.
    assert int.from_bytes(params.pow_hash_of(params.genesis), "little") <= bits_to_target(
        params.genesis.bits) <= params.pow_limit


def test_every_network_has_distinct_magic_but_the_two_core_regtests() -> None:
    by_magic: dict[bytes, list[str]] = {}
    for p in NETWORKS.values():
        by_magic.setdefault(p.magic, []).append(p.name)
    shared = {m: names for m, names in by_magic.items() if len(names) > 1}
    # Litecoin Core kept Bitcoin Core's regtest message start.
    assert shared == {bytes.fromhex("fabfb5da"): ["regtest", "litecoin-regtest"]}
    assert get_network("sv-regtest").magic == bytes.fromhex("dab5bffa")


PUBLIC = ("mainnet", "testnet3", "testnet4", "signet", "litecoin", "litecoin-testnet")


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_network_has_a_minimum_chain_work(name: str) -> None:
    params = get_network(name)
    assert params.minimum_chain_work > 0
    heights = [c.height for c in params.checkpoints]
    assert heights == sorted(set(heights))


def test_unknown_network_lists_choices() -> None:
    with pytest.raises(ConfigError, match="mainnet"):
        get_network("bogus")


GOOD = """
[network]
name = "aureon-dev"
magic = "a1b2c3d4"
default_port = 19999
genesis_header = "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4adae5494dffff7f2002000000"
pow_limit = "0x7fffff0000000000000000000000000000000000000000000000000000000000"
no_retargeting = true
allow_min_difficulty = true
bip34_height = 1
checkpoints = [{height = 0, hash = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"}]
"""


def test_good_profile_loads() -> None:
    params = params_from_toml(GOOD)
    assert params.name == "aureon-dev"
    assert params.magic == bytes.fromhex("a1b2c3d4")
    assert params.genesis.hash_hex == GENESIS["regtest"]
    assert params.pow_limit_bits == 0x207FFFFF
    assert params.checkpoint_map[0] == params.genesis.hash


@pytest.mark.parametrize(("old", "new", "field"), [
    ('magic = "a1b2c3d4"', 'magic = "a1b2"', "magic"),
    ('default_port = 19999', 'default_port = 70000', "default_port"),
    ('default_port = 19999', 'default_port = "x"', "default_port"),
    ('name = "aureon-dev"', 'name = "mainnet"', "name"),
    ('name = "aureon-dev"', 'name = "bad name!"', "name"),
    ('no_retargeting = true', 'no_retargeting = 1', "no_retargeting"),
    ('bip34_height = 1', 'bip34_height = -1', "bip34_height"),
    ('bip34_height = 1', 'colour = "red"', "colour"),
    ('pow_limit = "0x7fffff0000000000000000000000000000000000000000000000000000000000"',
     'pow_limit = "zz"', "pow_limit"),
    ('pow_limit = "0x7fffff0000000000000000000000000000000000000000000000000000000000"',
     'pow_limit = "0x0000000000ffff00000000000000000000000000000000000000000000000000"',
     "genesis_header"),
    ('genesis_header = "01', 'genesis_header = "0g', "genesis_header"),
    ('genesis_header = "01', 'genesis_header = "0101', "genesis_header"),
    ('hash = "0f9188', 'hash = "zz9188', "checkpoints[0].hash"),
    ('bip34_height = 1', 'pow_hash = "x11"', "pow_hash"),
    ('bip34_height = 1', 'pow_hash = 1', "pow_hash"),
    ('bip34_height = 1', 'retarget_variant = "dash"', "retarget_variant"),
    ('bip34_height = 1', 'versionbits_height = -5', "versionbits_height"),
])
def test_bad_profile_names_the_field(old: str, new: str, field: str) -> None:
    assert old in GOOD
    with pytest.raises(ConfigError) as info:
        params_from_toml(GOOD.replace(old, new, 1))
    assert info.value.field == field


def _with_genesis(header: BlockHeader) -> str:
    """GOOD with another genesis (and without the checkpoint of its own genesis)."""
    return "\n".join(
        f'genesis_header = "{header.serialize().hex()}"' if line.startswith("genesis_header")
        else line for line in GOOD.splitlines() if not line.startswith("checkpoints")) + "\n"


def test_profile_chooses_scrypt_and_the_litecoin_retarget() -> None:
    text = _with_genesis(get_network("litecoin-regtest").genesis)
    params = params_from_toml(text + 'pow_hash = "scrypt"\nretarget_variant = "litecoin"\n'
                              "versionbits_height = 0\n")
    assert (params.pow_hash, params.retarget_variant) == ("scrypt", "litecoin")
    assert params.versionbits_height == 0
    assert params_from_toml(GOOD).pow_hash == "sha256d"


def test_profile_genesis_is_checked_with_its_own_pow_hash() -> None:
    # Litecoin's regtest genesis meets its target in scrypt (the regtest target lets
    # about half of all hashes through); this nonce's double SHA-256 does not.
    ltc = get_network("litecoin-regtest").genesis
    for nonce in range(64):
        header = dataclasses.replace(ltc, nonce=nonce, hash=b"")
        scrypt_ok = int.from_bytes(scrypt_hash(header.serialize()), "little") <= (
            bits_to_target(header.bits))
        sha_ok = int.from_bytes(header.hash, "little") <= bits_to_target(header.bits)
        if scrypt_ok != sha_ok:
            break
    else:
        raise AssertionError("no nonce tells the two hashes apart")
    text = _with_genesis(header)
    good_hash, bad_hash = ("scrypt", "sha256d") if scrypt_ok else ("sha256d", "scrypt")
    assert params_from_toml(text + f'pow_hash = "{good_hash}"\n').pow_hash == good_hash
    with pytest.raises(ConfigError, match=bad_hash) as info:
        params_from_toml(text + f'pow_hash = "{bad_hash}"\n')
    assert info.value.field == "genesis_header"


def test_missing_required_field_named() -> None:
    text = "\n".join(line for line in GOOD.splitlines() if not line.startswith("magic"))
    with pytest.raises(ConfigError) as info:
        params_from_toml(text)
    assert info.value.field == "magic"


def test_not_toml() -> None:
    with pytest.raises(ConfigError, match="TOML"):
        params_from_toml("name = = =")
