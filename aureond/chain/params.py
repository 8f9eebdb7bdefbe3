"""Network parameters as data.

A network is a frozen value passed explicitly to whatever needs it; there is no
process-wide "current network". The built-in networks are listed in ``NETWORKS``; a
TOML profile (``aureond.chain.profile``, see ``config/networks/example.toml``) defines
another one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from aureond.chain.hashing import hash_from_display
from aureond.chain.header import BlockHeader
from aureond.chain.pow import POW_HASHES, PowHasher, pow_hashes_of, reference_hasher
from aureond.chain.target import target_to_bits
from aureond.errors import ConfigError

__all__ = ["NETWORKS", "RETARGET_VARIANTS", "VERSIONBITS_TOP_BITS", "Checkpoint",
           "NetworkParams", "get_network", "network_names"]

TWO_WEEKS = 14 * 24 * 60 * 60
TEN_MINUTES = 10 * 60
RETARGET_VARIANTS = ("bitcoin", "litecoin")
VERSIONBITS_TOP_BITS = 0x20000000


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A block hash the chain must have at ``height`` (wire-order hash bytes)."""

    height: int
    hash: bytes


@dataclass(frozen=True, slots=True)
class NetworkParams:
    """Everything the consensus core and the P2P layer need to know about a network.

    ``pow_hash`` names the proof-of-work hash (see ``aureond.chain.pow``);
    ``retarget_variant`` is ``bitcoin`` (the period's first header is the base of the
    next retarget) or ``litecoin`` (every retarget but the first after genesis
    measures a full interval, from the header before the period, and the target is
    shifted right one bit around the multiplication when it would overflow);
    ``versionbits_height`` is where header versions below ``0x20000000`` stop being
    valid (Litecoin, from its segwit height). ``pow_hasher`` is an optional faster
    implementation of ``pow_hash`` injected by the node (not data: it never takes
    part in comparisons).
    """

    name: str
    magic: bytes
    default_port: int
    genesis: BlockHeader
    pow_limit: int
    pow_hash: str = "sha256d"
    retarget_variant: str = "bitcoin"
    retarget_interval: int = 2016
    target_timespan: int = TWO_WEEKS
    target_spacing: int = TEN_MINUTES
    allow_min_difficulty: bool = False
    no_retargeting: bool = False
    enforce_bip94: bool = False
    bip34_height: int | None = None
    bip66_height: int | None = None
    bip65_height: int | None = None
    versionbits_height: int | None = None
    checkpoints: tuple[Checkpoint, ...] = ()
    minimum_chain_work: int = 0
    dns_seeds: tuple[str, ...] = ()
    max_payload: int = 4_000_000
    max_future_seconds: int = 2 * 60 * 60
    max_timewarp_seconds: int = 600
    pow_hasher: PowHasher | None = field(default=None, repr=False, compare=False)
    pow_limit_bits: int = field(init=False)
    checkpoint_map: Mapping[int, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.pow_hash not in POW_HASHES:
            raise ConfigError("pow_hash", f"must be one of {', '.join(POW_HASHES)}, "
                              f"got {self.pow_hash!r}")
        if self.retarget_variant not in RETARGET_VARIANTS:
            raise ConfigError("retarget_variant", f"must be one of "
                              f"{', '.join(RETARGET_VARIANTS)}, got {self.retarget_variant!r}")
        object.__setattr__(self, "pow_limit_bits", target_to_bits(self.pow_limit))
        object.__setattr__(self, "checkpoint_map",
                           {c.height: c.hash for c in self.checkpoints})

    @property
    def genesis_hash(self) -> bytes:
        return self.genesis.hash

    @property
    def pow_function(self) -> PowHasher | None:
        """The hasher validation uses: the injected one, else the reference one
        (``None`` when the proof-of-work hash is the block hash itself)."""
        if self.pow_hash == "sha256d":
            return None
        return self.pow_hasher if self.pow_hasher is not None else reference_hasher(
            self.pow_hash)

    def pow_hashes(self, raw: bytes, block_hashes: list[bytes]) -> list[bytes]:
        """The proof-of-work hashes of the concatenated headers ``raw``."""
        return pow_hashes_of(self.pow_function, raw, block_hashes)

    def pow_hash_of(self, header: BlockHeader) -> bytes:
        """The proof-of-work hash of one header."""
        if self.pow_hash == "sha256d":
            return header.hash
        return self.pow_hashes(header.serialize(), [header.hash])[0]

    def with_pow_hasher(self, hasher: PowHasher | None) -> NetworkParams:
        """The same network with another implementation of its proof-of-work hash."""
        return dataclasses.replace(self, pow_hasher=hasher)


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

# Litecoin: Litecoin Core v0.21.5.5 chainparams (src/chainparams.cpp) and pow.cpp.
# scrypt proof of work, 150 s blocks, 3.5-day periods (2016 blocks), Litecoin's
# retarget; the block hash is double SHA-256 as in Bitcoin.
_LITECOIN_MERKLE = "97ddfbbae6be97fd6cdf3e7ca13232a3afff2353e29badfab7f73011edd4ced9"
_LITECOIN_POW_LIMIT = (1 << 236) - 1  # 00000fff...ff
_LITECOIN_TIMESPAN = 3 * 24 * 60 * 60 + 12 * 60 * 60
_LITECOIN_SPACING = 150

_LITECOIN_CHECKPOINTS = (
    (1500, "841a2965955dd288cfa707a755d05a54e45f8bd476835ec9af4402a2b59a2967"),
    (4032, "9ce90e427198fc0ef05e5905ce3503725b80e26afd35a987965fd7e3d9cf0846"),
    (8064, "eb984353fc5190f210651f150c40b8a4bab9eeeff0b729fcb3987da694430d70"),
    (16128, "602edf1859b7f9a6af809f1d9b0e6cb66fdc1d4d9dcd7a4bec03e12a1ccd153d"),
    (23420, "d80fdf9ca81afd0bd2b2a90ac3a9fe547da58f2530ec874e978fce0b5101b507"),
    (50000, "69dc37eb029b68f075a5012dcc0419c127672adb4f3a32882b2b3e71d07a20a6"),
    (80000, "4fcb7c02f676a300503f49c764a89955a8f920b46a8cbecb4867182ecdb2e90a"),
    (120000, "bd9d26924f05f6daa7f0155f32828ec89e8e29cee9e7121b026a7a3552ac6131"),
    (161500, "dbe89880474f4bb4f75c227c77ba1cdc024991123b28b8418dbbf7798471ff43"),
    (179620, "2ad9c65c990ac00426d18e446e0fd7be2ffa69e9a7dcb28358a50b2b78b9f709"),
    (240000, "7140d1c4b4c2157ca217ee7636f24c9c73db39c4590c4e6eab2e3ea1555088aa"),
    (383640, "2b6809f094a9215bafc65eb3f110a35127a34be94b7d0590a096c3f126c6f364"),
    (409004, "487518d663d9f1fa08611d9395ad74d982b667fbdc0e77e9cf39b4f1355908a3"),
    (456000, "bf34f71cc6366cd487930d06be22f897e34ca6a40501ac7d401be32456372004"),
    (638902, "15238656e8ec63d28de29a8c75fcf3a5819afc953dcd9cc45cecc53baec74f38"),
    (721000, "198a7b4de1df9478e2463bd99d75b714eab235a2e63e741641dc8a759a9840e5"),
)

LITECOIN = NetworkParams(
    name="litecoin",
    magic=bytes.fromhex("fbc0b6db"),
    default_port=9333,
    genesis=_genesis(1317972665, 2084524493, 0x1E0FFFF0, _LITECOIN_MERKLE),
    pow_limit=_LITECOIN_POW_LIMIT,
    pow_hash="scrypt",
    retarget_variant="litecoin",
    target_timespan=_LITECOIN_TIMESPAN,
    target_spacing=_LITECOIN_SPACING,
    bip34_height=710000,
    bip66_height=811879,
    bip65_height=918684,
    versionbits_height=1201536,
    checkpoints=_checkpoints(_LITECOIN_CHECKPOINTS),
    minimum_chain_work=0x146878ABEE06FA883E0A,
    dns_seeds=("seed-a.litecoin.loshan.co.uk", "dnsseed.thrasher.io",
               "dnsseed.litecointools.com", "dnsseed.litecoinpool.org",
               "dnsseed.koin-project.com"),
)

LITECOIN_TESTNET = NetworkParams(
    name="litecoin-testnet",
    magic=bytes.fromhex("fdd2c8f1"),
    default_port=19335,
    genesis=_genesis(1486949366, 293345, 0x1E0FFFF0, _LITECOIN_MERKLE),
    pow_limit=_LITECOIN_POW_LIMIT,
    pow_hash="scrypt",
    retarget_variant="litecoin",
    target_timespan=_LITECOIN_TIMESPAN,
    target_spacing=_LITECOIN_SPACING,
    allow_min_difficulty=True,  # a header more than 2 x 150 s after its parent
    bip34_height=76,
    bip66_height=76,
    bip65_height=76,
    versionbits_height=6048,
    checkpoints=_checkpoints((
        (300, "54e6075affe658d6574e04c9245a7920ad94dc5af8f5b37fd9a094e317769740"),
        (2056, "17748a31ba97afdc9a4f86837a39d287e3e7c7290a08a1d816c5969c78a83289"),
        (2352616, "7540437e7bf7831fa872ba8cfae85951a1e5dbb04c201b6f5def934d9299f3c2"))),
    minimum_chain_work=0x4260A1758F04AA,
    dns_seeds=("testnet-seed.litecointools.com", "seed-b.litecoin.loshan.co.uk",
               "dnsseed-testnet.thrasher.io"),
)

# Litecoin's regtest shares Bitcoin Core's regtest magic; its genesis differs.
LITECOIN_REGTEST = NetworkParams(
    name="litecoin-regtest",
    magic=bytes.fromhex("fabfb5da"),
    default_port=19444,
    genesis=_genesis(1296688602, 0, 0x207FFFFF, _LITECOIN_MERKLE),
    pow_limit=(1 << 255) - 1,
    pow_hash="scrypt",
    retarget_variant="litecoin",
    target_timespan=_LITECOIN_TIMESPAN,
    target_spacing=_LITECOIN_SPACING,
    allow_min_difficulty=True,
    no_retargeting=True,
    bip34_height=500,
    bip66_height=1251,
    bip65_height=1351,
    versionbits_height=0,
)

NETWORKS: Mapping[str, NetworkParams] = {
    p.name: p for p in (MAINNET, TESTNET3, TESTNET4, SIGNET, REGTEST, SV_REGTEST, LITECOIN,
                        LITECOIN_TESTNET, LITECOIN_REGTEST)
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
