"""Litecoin addresses: Litecoin Core's key_io vectors, both P2SH versions, MWEB refused.

The vectors (address, scriptPubKey) are from Litecoin Core's
``src/test/data/key_io_valid.json`` (v0.21.5.5).
"""

from __future__ import annotations

import pytest

from aureond.state.addresses import (
    address_for_script,
    base58check_encode,
    script_for_address,
    script_kind,
    watch_script,
)
from aureond.state.errors import AddressError
from aureond.state.networks import ADDRESS_PARAMS, AddressParams

LTC = ADDRESS_PARAMS["litecoin"]
TLTC = ADDRESS_PARAMS["litecoin-testnet"]
RLTC = ADDRESS_PARAMS["litecoin-regtest"]


@pytest.mark.parametrize(("address", "network", "script_hex", "kind"), [
    ("LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA", "litecoin",
     "76a914558dbca7118cd5894502767c7b2ffc21a22f54db88ac", "p2pkh"),
    ("MHrYRxAiMNBTku3eoDHwhA1LQGDjUStZW2", "litecoin",
     "a9146d328a5b2a20d943a641c8d29b6cc3c2d2df85d387", "p2sh"),
    ("ltc1qhdhvrwe6rgqns8fz28tee0hphr5x7ulw5exv4w", "litecoin",
     "0014bb6ec1bb3a1a01381d2251d79cbee1b8e86f73ee", "p2wpkh"),
    ("ltc1ppu2gv0tujus0f6eggrk7eqmaf0567x6zer4fcuhz4z7ztzq9u9yseqxltc", "litecoin",
     "51200f14863d7c9720f4eb2840edec837d4be9af1b42c8ea9c72e2a8bc258805e149", "p2tr"),
    ("mwXn5Vhicdav8Av3KMokx4YNuHoGRKxtWs", "litecoin-testnet",
     "76a914afa9e672141e283dfbcc1cf28f3793a856d3878488ac", "p2pkh"),
    ("QXaUgLHkZcbJb2j5XgMYzY8cF9YM48Y81Z", "litecoin-testnet",
     "a9147860667e60a6545e18e541984094b29c9c46991b87", "p2sh"),
    ("tltc1qpftpsvdn6mjp8celrkj0qxqy4jlapl959rlwg9", "litecoin-testnet",
     "00140a561831b3d6e413e33f1da4f01804acbfd0fcb4", "p2wpkh"),
    ("mpWvR79tSrA5xeziB6mjNYWdaVRwBpgnUP", "litecoin-regtest",
     "76a91462b790654f809d32202587c6a43456ffc1965d8388ac", "p2pkh"),
    ("QgDNrG4nJpE4VV7PcFMFhkTgwAHWxWS7pj", "litecoin-regtest",
     "a914d71bee7a1395c10c9ca9a7f53ac086b53e74369d87", "p2sh"),
    ("rltc1q3kquwp848h4juq7rl5q3wqsr29pd3d6wprzz8k", "litecoin-regtest",
     "00148d81c704f53deb2e03c3fd011702035142d8b74e", "p2wpkh"),
    ("rltc1prd75w9a3v4kfjtkx93z0m2tdl4mpyfqty9kaxxp4zdnlrrkrv4lq6eksea", "litecoin-regtest",
     "51201b7d4717b1656c992ec62c44fda96dfd7612240b216dd318351367f18ec3657e", "p2tr"),
])
def test_litecoin_core_vectors(address: str, network: str, script_hex: str,
                               kind: str) -> None:
    params = ADDRESS_PARAMS[network]
    script = watch_script(address, params)
    assert script.hex() == script_hex
    assert script_kind(script) == kind
    assert address_for_script(script, params) == address


@pytest.mark.parametrize(("params", "legacy"), [(LTC, 0x05), (TLTC, 0xC4), (RLTC, 0xC4)])
def test_old_style_p2sh_is_read_and_written_the_new_way(params: AddressParams,
                                                        legacy: int) -> None:
    p = params
    script_hash = bytes(range(20))
    old = base58check_encode(bytes((legacy,)) + script_hash)
    script = script_for_address(old, p)
    assert script == b"\xa9\x14" + script_hash + b"\x87"
    new = address_for_script(script, p)
    assert new is not None
    assert new != old
    assert new[0] in "MQ"


@pytest.mark.parametrize(("item", "params", "message"), [
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", LTC, "a mainnet address"),
    ("ltc1qhdhvrwe6rgqns8fz28tee0hphr5x7ulw5exv4w", RLTC, "a litecoin address"),
    ("rltc1q3kquwp848h4juq7rl5q3wqsr29pd3d6wprzz8k", ADDRESS_PARAMS["regtest"],
     "a litecoin-regtest address"),
    ("LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA", RLTC, "a litecoin address"),
    # An MWEB (stealth) address, as litecoind's getnewaddress "" mweb writes one.
    ("tmweb1qqv6y8zuyxjqhxx0yj2p6l64r66a8yflt7aaec6rr65h3s2vtckkh2qknwq35zz0kmvjvhz8yxv3"
     "d3lp9wph5r6gchrs8pqp5yu0umueytgrmu0ln", RLTC, "MWEB"),
    ("ltcmweb1qq", LTC, "MWEB"),
])
def test_refused_with_the_reason(item: str, params: AddressParams, message: str) -> None:
    with pytest.raises(AddressError, match=message):
        watch_script(item, params)
