"""Network parameters as data.

A network is a frozen value passed explicitly to whatever needs it; there is no
process-wide "current network". The built-in networks are listed in ``NETWORKS``; a
TOML profile (see ``config/networks/example.toml``) defines another one and is
validated field by field, a bad profile refused with the field named.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aureond.chain.hashing import hash_from_display
from aureond.chain.header import BlockHeader
from aureond.chain.target import bits_to_target, target_to_bits
from aureond.errors import ConfigError, EncodingError

__all__ = ["NETWORKS", "Checkpoint", "NetworkParams", "get_network", "network_names",
           "params_from_mapping", "params_from_toml"]

TWO_WEEKS = 14 * 24 * 60 * 60
TEN_MINUTES = 10 * 60


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A block hash the chain must have at ``height`` (wire-order hash bytes)."""

    height: int
    hash: bytes


@dataclass(frozen=True, slots=True)
class NetworkParams:
    """Everything the consensus core and the P2P layer need to know about a network."""

    name: str
    magic: bytes
    default_port: int
    genesis: BlockHeader
    pow_limit: int
    retarget_interval: int = 2016
    target_timespan: int = TWO_WEEKS
    target_spacing: int = TEN_MINUTES
    allow_min_difficulty: bool = False
    no_retargeting: bool = False
    enforce_bip94: bool = False
    bip34_height: int | None = None
    bip66_height: int | None = None
    bip65_height: int | None = None
    checkpoints: tuple[Checkpoint, ...] = ()
    minimum_chain_work: int = 0
    dns_seeds: tuple[str, ...] = ()
    max_payload: int = 4_000_000
    max_future_seconds: int = 2 * 60 * 60
    max_timewarp_seconds: int = 600
    pow_limit_bits: int = field(init=False)
    checkpoint_map: Mapping[int, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pow_limit_bits", target_to_bits(self.pow_limit))
        object.__setattr__(self, "checkpoint_map",
                           {c.height: c.hash for c in self.checkpoints})

    @property
    def genesis_hash(self) -> bytes:
        return self.genesis.hash


def _genesis(time: int, nonce: int, bits: int, merkle_display: str,
             version: int = 1) -> BlockHeader:
    return BlockHeader(version, bytes(32), hash_from_display(merkle_display), time, bits,
                       nonce)


_SATOSHI_MERKLE = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
_POW_LIMIT_1 = (1 << 224) - 1  # 00000000ffff...ff

# Bitcoin's checkpoints and minimum chain work are Bitcoin Core's. Minimum chain work:
# Bitcoin Core v30.0 chainparams (src/kernel/chainparams.cpp). Checkpoints: v30.0
# removed them; these are the ones Bitcoin Core carried until then (mainnet up to
# 295000, testnet3 at 546; testnet4 and signet never had any).
_MAINNET_CHECKPOINTS = (
    (11111, "0000000069e244f73d78e8fd29ba2fd2ed618bd6fa2ee92559f542fdb26e7c1d"),
    (33333, "000000002dd5588a74784eaa7ab0507a18ad16a236e7b1ce69f00d7ddfb5d0a6"),
    (74000, "0000000000573993a3c9e41ce34471c079dcf5f52a0e824a81e7f953b8661a20"),
    (105000, "00000000000291ce28027faea320c8d2b054b2e0fe44a773f3eefb151d6bdc97"),
    (134444, "00000000000005b12ffd4cd315cd34ffd4a594f430ac814c91184a0d42d2b0fe"),
    (168000, "000000000000099e61ea72015e79632f216fe6cb33d7899acb35b75c8303b763"),
    (193000, "000000000000059f452a5f7340de6682a977387c17010ff6e6c3bd83ca8b1317"),
    (210000, "000000000000048b95347e83192f69cf0366076336c639f9b7228e9ba171342e"),
    (216116, "00000000000001b4f4b433e81ee46494af945cf96014816a4e2370f11b23df4e"),
    (225430, "00000000000001c108384350f74090433e7fcf79a606b8e797f065b130575932"),
    (250000, "000000000000003887df1f29024b06fc2200b55f8af8f35453d7be294df2d214"),
    (279000, "0000000000000001ae8c72a0b0c301f67e3afca10e819efa9041e458e9bd7e40"),
    (295000, "00000000000000004d9b4ef50f0f9d686fd69db2e03af35a100370c64632a983"),
)


def _checkpoints(items: tuple[tuple[int, str], ...]) -> tuple[Checkpoint, ...]:
    return tuple(Checkpoint(h, hash_from_display(x)) for h, x in items)


MAINNET = NetworkParams(
    name="mainnet",
    magic=bytes.fromhex("f9beb4d9"),
    default_port=8333,
    genesis=_genesis(1231006505, 2083236893, 0x1D00FFFF, _SATOSHI_MERKLE),
    pow_limit=_POW_LIMIT_1,
    bip34_height=227931,
    bip66_height=363725,
    bip65_height=388381,
    checkpoints=_checkpoints(_MAINNET_CHECKPOINTS),
    # Bitcoin Core v30.0 (the chain's work near height 912683, September 2025): a
    # header chain with less work than this is never stored, however it is served.
    minimum_chain_work=0xDEE8E2A309AD8A9820433C68,
    dns_seeds=("seed.bitcoin.sipa.be", "dnsseed.bluematt.me",
               "seed.bitcoin.jonasschnelli.ch", "seed.btc.petertodd.net",
               "seed.bitcoin.sprovoost.nl", "dnsseed.emzy.de", "seed.bitcoin.wiz.biz"),
)

TESTNET3 = NetworkParams(
    name="testnet3",
    magic=bytes.fromhex("0b110907"),
    default_port=18333,
    genesis=_genesis(1296688602, 414098458, 0x1D00FFFF, _SATOSHI_MERKLE),
    pow_limit=_POW_LIMIT_1,
    allow_min_difficulty=True,
    bip34_height=21111,
    bip66_height=330776,
    bip65_height=581885,
    checkpoints=_checkpoints(
        ((546, "000000002a936ca763904c3c35fce2f3556c559c0214345d31b1bcebf76acb70"),)),
    minimum_chain_work=0x16DD270DD94FAC1D7632,  # Bitcoin Core v30.0
    dns_seeds=("testnet-seed.bitcoin.jonasschnelli.ch", "seed.tbtc.petertodd.net",
               "seed.testnet.bitcoin.sprovoost.nl", "testnet-seed.bluematt.me"),
)

TESTNET4 = NetworkParams(
    name="testnet4",
    magic=bytes.fromhex("1c163f28"),
    default_port=48333,
    genesis=_genesis(1714777860, 393743547, 0x1D00FFFF,
                     "7aa0a7ae1e223414cb807e40cd57e667b718e42aaf9306db9102fe28912b7b4e"),
    pow_limit=_POW_LIMIT_1,
    allow_min_difficulty=True,
    enforce_bip94=True,
    bip34_height=1,
    bip66_height=1,
    bip65_height=1,
    minimum_chain_work=0x34A4690FE592DC49C7C,  # Bitcoin Core v30.0
    dns_seeds=("seed.testnet4.bitcoin.sprovoost.nl", "seed.testnet4.wiz.biz"),
)

SIGNET = NetworkParams(
    name="signet",
    magic=bytes.fromhex("0a03cf40"),
    default_port=38333,
    genesis=_genesis(1598918400, 52613770, 0x1E0377AE, _SATOSHI_MERKLE),
    pow_limit=0x00000377AE << 216,
    bip34_height=1,
    bip66_height=1,
    bip65_height=1,
    minimum_chain_work=0x67D328E681A,  # Bitcoin Core v30.0 (the default signet)
    dns_seeds=("seed.signet.bitcoin.sprovoost.nl",),
)

REGTEST = NetworkParams(
    name="regtest",
    magic=bytes.fromhex("fabfb5da"),
    default_port=18444,
    genesis=_genesis(1296688602, 2, 0x207FFFFF, _SATOSHI_MERKLE),
    pow_limit=0x7FFFFF << 232,
    allow_min_difficulty=True,
    no_retargeting=True,
    bip34_height=1,
    bip66_height=1,
    bip65_height=1,
)

# The regtest of the reference full node used in integration tests: Bitcoin SV 1.0.13.
# Same genesis as regtest, its own magic, no retargeting, a 2 MiB default payload.
SV_REGTEST = NetworkParams(
    name="sv-regtest",
    magic=bytes.fromhex("dab5bffa"),
    default_port=18444,
    genesis=REGTEST.genesis,
    pow_limit=0x7FFFFF << 232,
    allow_min_difficulty=True,
    no_retargeting=True,
    bip34_height=100_000_000,
    bip66_height=1251,
    bip65_height=1351,
    max_payload=2 * 1024 * 1024,
)

NETWORKS: Mapping[str, NetworkParams] = {
    p.name: p for p in (MAINNET, TESTNET3, TESTNET4, SIGNET, REGTEST, SV_REGTEST)
}


def network_names() -> tuple[str, ...]:
    return tuple(NETWORKS)


def get_network(name: str) -> NetworkParams:
    """A built-in network by name; an unknown name is a ConfigError listing the choices."""
    try:
        return NETWORKS[name]
    except KeyError:
        raise ConfigError("network", f"unknown network {name!r}; choose one of "
                          f"{', '.join(NETWORKS)} or load a profile file") from None


# --- profiles -----------------------------------------------------------------------

_REQUIRED = ("name", "magic", "default_port", "genesis_header", "pow_limit")
_INT_FIELDS = ("retarget_interval", "target_timespan", "target_spacing",
               "max_payload", "max_future_seconds", "max_timewarp_seconds")
_BOOL_FIELDS = ("allow_min_difficulty", "no_retargeting", "enforce_bip94")
_HEIGHT_FIELDS = ("bip34_height", "bip66_height", "bip65_height")
_KNOWN = frozenset((*_REQUIRED, *_INT_FIELDS, *_BOOL_FIELDS, *_HEIGHT_FIELDS,
                    "checkpoints", "minimum_chain_work", "dns_seeds"))


def _int(raw: Mapping[str, Any], key: str, lo: int, hi: int) -> int:
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, f"must be an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise ConfigError(key, f"must be between {lo} and {hi}, got {value}")
    return value


def _hex_int(raw: Mapping[str, Any], key: str) -> int:
    value = raw[key]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise ConfigError(key, "must be an integer or a hex string such as '0x1d00ffff'")


def params_from_mapping(raw: Mapping[str, Any]) -> NetworkParams:
    """Build and validate a network from a profile mapping (parsed TOML)."""
    unknown = sorted(set(raw) - _KNOWN)
    if unknown:
        raise ConfigError(unknown[0], "unknown field in network profile")
    for key in _REQUIRED:
        if key not in raw:
            raise ConfigError(key, "required field missing from network profile")
    name = raw["name"]
    if not isinstance(name, str) or not name or len(name) > 32 or not all(
            c.isalnum() or c in "-_" for c in name):
        raise ConfigError("name", "must be 1-32 letters, digits, '-' or '_'")
    if name in NETWORKS:
        raise ConfigError("name", f"{name!r} is a built-in network; pick another name")
    magic_text = raw["magic"]
    try:
        magic = bytes.fromhex(magic_text) if isinstance(magic_text, str) else b""
    except ValueError:
        magic = b""
    if len(magic) != 4:
        raise ConfigError("magic", "must be 4 bytes as 8 hex digits, e.g. 'f9beb4d9'")
    port = _int(raw, "default_port", 1, 65535)
    pow_limit = _hex_int(raw, "pow_limit")
    if not 0 < pow_limit < (1 << 256):
        raise ConfigError("pow_limit", "must be a positive 256-bit number")
    try:
        genesis = BlockHeader.from_hex(str(raw["genesis_header"]))
    except EncodingError as exc:
        raise ConfigError("genesis_header", f"not an 80-byte header in hex: {exc}") from exc
    try:
        if bits_to_target(genesis.bits) > pow_limit:
            raise ConfigError("genesis_header", "genesis bits are easier than pow_limit")
    except EncodingError as exc:
        raise ConfigError("genesis_header", str(exc)) from exc
    if int.from_bytes(genesis.hash, "little") > bits_to_target(genesis.bits):
        raise ConfigError("genesis_header", "genesis does not meet its own proof of work")
    kwargs: dict[str, Any] = {}
    for key in _INT_FIELDS:
        if key in raw:
            kwargs[key] = _int(raw, key, 1, 2**31 - 1)
    for key in _BOOL_FIELDS:
        if key in raw:
            if not isinstance(raw[key], bool):
                raise ConfigError(key, "must be true or false")
            kwargs[key] = raw[key]
    for key in _HEIGHT_FIELDS:
        if key in raw:
            kwargs[key] = _int(raw, key, 0, 2**31 - 1)
    if "minimum_chain_work" in raw:
        kwargs["minimum_chain_work"] = _hex_int(raw, "minimum_chain_work")
    if "dns_seeds" in raw:
        seeds = raw["dns_seeds"]
        if not isinstance(seeds, list) or not all(isinstance(s, str) for s in seeds):
            raise ConfigError("dns_seeds", "must be a list of host names")
        kwargs["dns_seeds"] = tuple(seeds)
    if "checkpoints" in raw:
        kwargs["checkpoints"] = _profile_checkpoints(raw["checkpoints"])
    return NetworkParams(name=name, magic=magic, default_port=port, genesis=genesis,
                         pow_limit=pow_limit, **kwargs)


def _profile_checkpoints(items: Any) -> tuple[Checkpoint, ...]:
    if not isinstance(items, list):
        raise ConfigError("checkpoints", "must be a list of {height, hash} tables")
    out = []
    for i, item in enumerate(items):
        where = f"checkpoints[{i}]"
        if not isinstance(item, dict) or set(item) != {"height", "hash"}:
            raise ConfigError(where, "must be a table with exactly 'height' and 'hash'")
        height = _int(item, "height", 0, 2**31 - 1)
        try:
            out.append(Checkpoint(height, hash_from_display(item["hash"])))
        except EncodingError as exc:
            raise ConfigError(f"{where}.hash", str(exc)) from exc
    return tuple(sorted(out, key=lambda c: c.height))


def params_from_toml(text: str) -> NetworkParams:
    """Parse a TOML network profile (the file's text; reading it is the caller's job)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("profile", f"not valid TOML: {exc}") from exc
    section = raw.get("network", raw)
    if not isinstance(section, dict):
        raise ConfigError("network", "must be a table")
    return params_from_mapping(section)
