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
    ``p2sh_legacy_version`` is a second P2SH version still read (Litecoin writes P2SH
    with ``p2sh_version``, "M"/"Q", and reads its older Bitcoin-like "3"/"2" too).
    ``mweb_hrp`` is the prefix of MWEB addresses (Litecoin), refused with the reason:
    their outputs are not in the blocks a light client sees.
    """

    network: str
    p2pkh_version: int
    p2sh_version: int
    hrp: str | None
    p2sh_legacy_version: int | None = None
    mweb_hrp: str | None = None

    @property
    def p2sh_versions(self) -> tuple[int, ...]:
        """Every version byte read as P2SH, the written one first."""
        if self.p2sh_legacy_version is None:
            return (self.p2sh_version,)
        return (self.p2sh_version, self.p2sh_legacy_version)


# Litecoin: Litecoin Core v0.21.5.5 chainparams: PUBKEY_ADDRESS, SCRIPT_ADDRESS2 (the
# one written), SCRIPT_ADDRESS (still read), bech32_hrp and mweb_hrp.
ADDRESS_PARAMS: Mapping[str, AddressParams] = MappingProxyType({
    p.network: p for p in (
        AddressParams("mainnet", 0x00, 0x05, "bc"),
        AddressParams("testnet3", 0x6F, 0xC4, "tb"),
        AddressParams("testnet4", 0x6F, 0xC4, "tb"),
        AddressParams("signet", 0x6F, 0xC4, "tb"),
        AddressParams("regtest", 0x6F, 0xC4, "bcrt"),
        AddressParams("sv-regtest", 0x6F, 0xC4, None),
        AddressParams("litecoin", 0x30, 0x32, "ltc", 0x05, "ltcmweb"),
        AddressParams("litecoin-testnet", 0x6F, 0x3A, "tltc", 0xC4, "tmweb"),
        AddressParams("litecoin-regtest", 0x6F, 0x3A, "rltc", 0xC4, "tmweb"),
    )
})


def address_params(network: str) -> AddressParams | None:
    """The address parameters of ``network``, or None when it has none."""
    return ADDRESS_PARAMS.get(network)
