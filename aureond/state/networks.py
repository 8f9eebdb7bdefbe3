"""Address parameters per network: base58check version bytes and the bech32 prefix.

Kept beside the state layer (the consensus parameters in :mod:`aureond.chain.params`
know nothing of addresses). Keyed by the network's name; a network without an entry
(a TOML profile) can still watch scripts given as hex.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["ADDRESS_PARAMS", "AddressParams", "address_params"]


@dataclass(frozen=True, slots=True)
class AddressParams:
    """How one network writes addresses.

    ``hrp`` is the bech32 human-readable part; None on a network without segwit
    (the reference regtest node), where bech32 addresses are refused.
    """

    network: str
    p2pkh_version: int
    p2sh_version: int
    hrp: str | None


_TEST = {"p2pkh_version": 0x6F, "p2sh_version": 0xC4}

ADDRESS_PARAMS: Mapping[str, AddressParams] = MappingProxyType({
    p.network: p for p in (
        AddressParams("mainnet", 0x00, 0x05, "bc"),
        AddressParams("testnet3", hrp="tb", **_TEST),
        AddressParams("testnet4", hrp="tb", **_TEST),
        AddressParams("signet", hrp="tb", **_TEST),
        AddressParams("regtest", hrp="bcrt", **_TEST),
        AddressParams("sv-regtest", hrp=None, **_TEST),
    )
})


def address_params(network: str) -> AddressParams | None:
    """The address parameters of ``network``, or None when it has none."""
    return ADDRESS_PARAMS.get(network)
