"""Addresses to scripts and back: base58check (P2PKH, P2SH), bech32 and bech32m (BIP173,
BIP350: P2WPKH, P2WSH, P2TR and later witness versions).

Every checksum is verified. An address of another network is refused by name, never
read as a script of this one. :func:`watch_script` is the one entry point for what a
user may watch: an address of the node's network, or a scriptPubKey in hex.
"""

from __future__ import annotations

import re

from aureond.chain.hashing import dsha256
from aureond.state.errors import AddressError
from aureond.state.networks import ADDRESS_PARAMS, AddressParams

__all__ = [
    "MAX_SCRIPT_SIZE",
    "address_for_script",
    "base58_decode",
    "base58_encode",
    "base58check_decode",
    "base58check_encode",
    "bech32_decode",
    "bech32_encode",
    "decode_segwit",
    "encode_segwit",
    "script_for_address",
    "script_kind",
    "watch_script",
]

#: Consensus limit on a scriptPubKey that can ever be spent; larger ones are refused.
MAX_SCRIPT_SIZE = 10_000
_MAX_BASE58_LEN = 64          # an address is 25 bytes: 34-35 characters
_MAX_BECH32_LEN = 90          # BIP173

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_INDEX = {c: i for i, c in enumerate(_CHARSET)}
_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
BECH32_CONST = 1
BECH32M_CONST = 0x2BC830A3

_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")

_OP_0 = 0x00
_OP_1 = 0x51
_OP_16 = 0x60
_OP_DUP, _OP_HASH160, _OP_EQUAL = 0x76, 0xA9, 0x87
_OP_EQUALVERIFY, _OP_CHECKSIG, _OP_RETURN = 0x88, 0xAC, 0x6A


# --- base58check ----------------------------------------------------------------------

def base58_encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(_B58[r])
    zeros = len(data) - len(data.lstrip(b"\x00"))
    return "1" * zeros + "".join(reversed(out))


def base58_decode(text: str) -> bytes:
    if not text or len(text) > _MAX_BASE58_LEN:
        raise AddressError(f"a base58 string is 1 to {_MAX_BASE58_LEN} characters")
    n = 0
    for c in text:
        digit = _B58_INDEX.get(c)
        if digit is None:
            raise AddressError(f"{c!r} is not a base58 character")
        n = n * 58 + digit
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    zeros = len(text) - len(text.lstrip("1"))
    return b"\x00" * zeros + body


def base58check_encode(payload: bytes) -> str:
    return base58_encode(payload + dsha256(payload)[:4])


def base58check_decode(text: str) -> bytes:
    """The payload of a base58check string; ``AddressError`` on a bad checksum."""
    raw = base58_decode(text)
    if len(raw) < 5:
        raise AddressError("base58check data is too short for its checksum")
    payload, check = raw[:-4], raw[-4:]
    if dsha256(payload)[:4] != check:
        raise AddressError("base58check checksum does not match (a typo?)")
    return payload


# --- bech32 / bech32m -----------------------------------------------------------------

def _polymod(values: list[int]) -> int:
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _GEN[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def bech32_encode(hrp: str, data: list[int], const: int) -> str:
    values = _hrp_expand(hrp) + data
    poly = _polymod([*values, 0, 0, 0, 0, 0, 0]) ^ const
    checksum = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[d] for d in data + checksum)


def bech32_decode(text: str) -> tuple[str, list[int], int]:
    """(hrp, 5-bit data without checksum, checksum constant) of a bech32(m) string."""
    if len(text) > _MAX_BECH32_LEN:
        raise AddressError(f"a bech32 string is at most {_MAX_BECH32_LEN} characters")
    if text.lower() != text and text.upper() != text:
        raise AddressError("a bech32 string is all lower case or all upper case, not mixed")
    if any(not 33 <= ord(c) <= 126 for c in text):
        raise AddressError("a bech32 string holds printable ASCII only")
    text = text.lower()
    sep = text.rfind("1")
    if sep < 1 or sep + 7 > len(text):
        raise AddressError("a bech32 string is HRP '1' data, with 6 checksum characters")
    hrp = text[:sep]
    try:
        data = [_CHARSET_INDEX[c] for c in text[sep + 1:]]
    except KeyError as exc:
        raise AddressError(f"{exc.args[0]!r} is not a bech32 character") from None
    const = _polymod(_hrp_expand(hrp) + data)
    if const not in (BECH32_CONST, BECH32M_CONST):
        raise AddressError("bech32 checksum does not match (a typo?)")
    return hrp, data[:-6], const


def _convert_bits(data: list[int] | bytes, frm: int, to: int, pad: bool) -> list[int]:
    acc = bits = 0
    out = []
    maxv = (1 << to) - 1
    for value in data:
        acc = (acc << frm) | value
        bits += frm
        while bits >= to:
            bits -= to
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (to - bits)) & maxv)
    elif bits >= frm or (acc << (to - bits)) & maxv:
        raise AddressError("bech32 data has invalid padding")
    return out


def decode_segwit(hrp: str, text: str) -> tuple[int, bytes]:
    """(witness version, program) of a segwit address with the prefix ``hrp``."""
    got_hrp, data, const = bech32_decode(text)
    if got_hrp != hrp:
        raise AddressError(f"prefix {got_hrp!r} is not this network's {hrp!r}")
    if not data:
        raise AddressError("a segwit address carries a witness version")
    version = data[0]
    if version > 16:
        raise AddressError(f"witness version {version} does not exist")
    program = bytes(_convert_bits(data[1:], 5, 8, pad=False))
    if not 2 <= len(program) <= 40:
        raise AddressError(f"a witness program is 2 to 40 bytes, got {len(program)}")
    if version == 0 and len(program) not in (20, 32):
        raise AddressError(f"a version 0 witness program is 20 or 32 bytes, got {len(program)}")
    want = BECH32_CONST if version == 0 else BECH32M_CONST
    if const != want:
        raise AddressError(f"witness version {version} uses "
                           f"{'bech32' if version == 0 else 'bech32m'} (BIP350)")
    return version, program


def encode_segwit(hrp: str, version: int, program: bytes) -> str:
    const = BECH32_CONST if version == 0 else BECH32M_CONST
    return bech32_encode(hrp, [version, *_convert_bits(program, 8, 5, pad=True)], const)


# --- scripts --------------------------------------------------------------------------

def _p2pkh(h: bytes) -> bytes:
    return bytes((_OP_DUP, _OP_HASH160, 20)) + h + bytes((_OP_EQUALVERIFY, _OP_CHECKSIG))


def _p2sh(h: bytes) -> bytes:
    return bytes((_OP_HASH160, 20)) + h + bytes((_OP_EQUAL,))


def _witness(version: int, program: bytes) -> bytes:
    op = _OP_0 if version == 0 else _OP_1 + version - 1
    return bytes((op, len(program))) + program


def _witness_parts(script: bytes) -> tuple[int, bytes] | None:
    if not 4 <= len(script) <= 42 or script[1] != len(script) - 2:
        return None
    op = script[0]
    if op == _OP_0:
        return 0, script[2:]
    if _OP_1 <= op <= _OP_16:
        return op - _OP_1 + 1, script[2:]
    return None


def script_kind(script: bytes) -> str:
    """A short tag for a scriptPubKey's template (bounded set, fit for a metric label)."""
    n = len(script)
    if n == 25 and script[:3] == b"\x76\xa9\x14" and script[23:] == b"\x88\xac":
        return "p2pkh"
    if n == 23 and script[:2] == b"\xa9\x14" and script[22] == _OP_EQUAL:
        return "p2sh"
    parts = _witness_parts(script)
    if parts is not None:
        version, program = parts
        if version == 0:
            return {20: "p2wpkh", 32: "p2wsh"}.get(len(program), "nonstandard")
        if version == 1 and len(program) == 32:
            return "p2tr"
        return "witness_unknown"
    if n in (35, 67) and script[0] == n - 2 and script[-1] == _OP_CHECKSIG:
        return "p2pk"
    if n >= 1 and script[0] == _OP_RETURN:
        return "nulldata"
    return "nonstandard"


def address_for_script(script: bytes, params: AddressParams) -> str | None:
    """The address of ``script`` on the network, or None when it has no address form."""
    kind = script_kind(script)
    if kind == "p2pkh":
        return base58check_encode(bytes((params.p2pkh_version,)) + script[3:23])
    if kind == "p2sh":
        return base58check_encode(bytes((params.p2sh_version,)) + script[2:22])
    parts = _witness_parts(script)
    if parts is not None and params.hrp is not None and kind != "nonstandard":
        return encode_segwit(params.hrp, *parts)
    return None


class _WrongNetworkError(AddressError):
    """A well-formed address of another network (never read as a script instead)."""


_MWEB_REFUSED = ("an MWEB address: coins sent to it live in Litecoin's extension block, "
                 "which a light client does not see; watch an ordinary address instead")


def _other_network(version: int | None, hrp: str | None) -> str | None:
    """The networks (joined by '/') whose addresses use ``version`` or ``hrp``."""
    names = [p.network for p in ADDRESS_PARAMS.values()
             if (version is not None and version in (p.p2pkh_version, *p.p2sh_versions))
             or (hrp is not None and hrp in (p.hrp, p.mweb_hrp))]
    return "/".join(names) or None


def _segwit_script(text: str, hrp: str, params: AddressParams) -> bytes:
    if hrp == params.mweb_hrp:
        raise _WrongNetworkError(_MWEB_REFUSED)
    if params.hrp is None:
        raise _WrongNetworkError(f"{params.network} has no segwit: bech32 addresses "
                                 "cannot be paid there")
    if hrp != params.hrp:
        other = _other_network(None, hrp)
        where = f"a {other} address" if other else f"prefix {hrp!r}"
        raise _WrongNetworkError(f"{where}, not one of {params.network} "
                                 f"(prefix {params.hrp!r})")
    return _witness(*decode_segwit(params.hrp, text))


def script_for_address(text: str, params: AddressParams) -> bytes:
    """The scriptPubKey an address of ``params.network`` pays; ``AddressError`` otherwise."""
    try:
        hrp = bech32_decode(text)[0]
    except AddressError as exc:
        known = {p.hrp for p in ADDRESS_PARAMS.values() if p.hrp}
        if text.lower().split("1", 1)[0] in known and "1" in text:
            raise AddressError(f"not a valid bech32 address: {exc}") from None
    else:
        return _segwit_script(text, hrp, params)
    payload = base58check_decode(text)
    if len(payload) != 21:
        raise AddressError(f"a base58 address holds 21 bytes, got {len(payload)}")
    version, body = payload[0], payload[1:]
    if version == params.p2pkh_version:
        return _p2pkh(body)
    if version in params.p2sh_versions:
        return _p2sh(body)
    other = _other_network(version, None)
    where = f"a {other} address" if other else f"address version {version}"
    raise _WrongNetworkError(f"{where}, not one of {params.network}")


def watch_script(item: str, params: AddressParams | None) -> bytes:
    """What ``item`` asks to watch: an address of the network or a scriptPubKey in hex.

    An item that decodes as an address of this network is that address; one that
    decodes as an address of another network is refused; otherwise even-length hex is
    a script. The error names the problem (wrong network, bad checksum, size).
    """
    if not isinstance(item, str) or not item:
        raise AddressError("a watch item is a non-empty string (address or script hex)")
    if params is not None and params.mweb_hrp and item.lower().startswith(
            params.mweb_hrp + "1"):
        raise AddressError(_MWEB_REFUSED)  # longer than bech32 allows: caught here
    address_error: AddressError | None = None
    if len(item) <= _MAX_BECH32_LEN:
        try:
            if params is None:
                raise AddressError("this network has no address format: give the script "
                                   "as hex")
            return script_for_address(item, params)
        except _WrongNetworkError:
            raise
        except AddressError as exc:
            address_error = exc
    if _HEX.fullmatch(item):
        script = bytes.fromhex(item)
        if len(script) > MAX_SCRIPT_SIZE:
            raise AddressError(f"a script is at most {MAX_SCRIPT_SIZE} bytes, "
                               f"got {len(script)}")
        return script
    if address_error is not None:
        raise address_error
    raise AddressError(f"neither an address nor script hex: {item[:16]!r}...")
