"""Networks as data: built-in genesis hashes and TOML profiles refused by field."""

from __future__ import annotations

import pytest

from aureond.chain.params import NETWORKS, get_network, params_from_toml
from aureond.errors import ConfigError

GENESIS = {
    "mainnet": "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
    "testnet3": "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
    "testnet4": "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043",
    "signet": "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6",
    "regtest": "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
    "sv-regtest": "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
}


@pytest.mark.parametrize("name", sorted(GENESIS))
def test_builtin_genesis_hashes(name: str) -> None:
    params = get_network(name)
    assert params.genesis.hash_hex == GENESIS[name]
    assert int.from_bytes(params.genesis.hash, "little") <= params.pow_limit


def test_every_network_has_distinct_magic_except_nothing() -> None:
    magics = [p.magic for p in NETWORKS.values()]
    assert len(set(magics)) == len(magics)
    assert get_network("sv-regtest").magic == bytes.fromhex("dab5bffa")
    assert get_network("regtest").magic == bytes.fromhex("fabfb5da")


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
])
def test_bad_profile_names_the_field(old: str, new: str, field: str) -> None:
    assert old in GOOD
    with pytest.raises(ConfigError) as info:
        params_from_toml(GOOD.replace(old, new, 1))
    assert info.value.field == field


def test_missing_required_field_named() -> None:
    text = "\n".join(line for line in GOOD.splitlines() if not line.startswith("magic"))
    with pytest.raises(ConfigError) as info:
        params_from_toml(text)
    assert info.value.field == "magic"


def test_not_toml() -> None:
    with pytest.raises(ConfigError, match="TOML"):
        params_from_toml("name = = =")
