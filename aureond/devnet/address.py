"""Regtest P2PKH addresses to mine to, without a wallet.

Mining to an address the node's wallet does not own is the fast way to build long
chains. Branches mined on the same parent in the same second to the same address are
identical blocks, so each branch should get its own address: derive one per label.
"""

from __future__ import annotations

import hashlib

__all__ = ["REGTEST_P2PKH_VERSION", "base58check", "regtest_address"]

REGTEST_P2PKH_VERSION = 0x6F  # testnet and regtest P2PKH prefix ("m" or "n")
_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58check(version: int, payload: bytes) -> str:
    """Base58Check of ``version || payload`` (the address encoding)."""
    if not 0 <= version <= 0xFF:
        raise ValueError(f"version byte out of range: {version}")
    data = bytes([version]) + payload
    data += hashlib.sha256(hashlib.sha256(data).digest()).digest()[:4]
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, rest = divmod(number, 58)
        digits.append(_ALPHABET[rest])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(digits))


def regtest_address(label: str) -> str:
    """A deterministic P2PKH address whose key hash is derived from ``label``.

    Nobody holds its private key; coins mined to it are only there to make blocks.
    """
    key_hash = hashlib.sha256(b"aureond devnet address:" + label.encode()).digest()[:20]
    return base58check(REGTEST_P2PKH_VERSION, key_hash)
