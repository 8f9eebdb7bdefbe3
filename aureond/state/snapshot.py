"""Snapshots: the whole state at an anchor block, merkle-committed and compressed.

A snapshot holds one canonical leaf per account (:mod:`aureond.state.codec`), sorted by
account id, and a state root over them (:mod:`aureond.state.commitment`); besides the
leaves, what the ledger needs to continue exactly: the watched scripts and their start
heights, the merkle branches of relevant transactions, and the recent undo records.

Compression is zlib (level 6): it is in the standard library, deterministic for a
given input and level, and the leaves (fixed-width integers, repeated scripts and
txids) compress well with it. zstd would be faster at a similar ratio but needs a
third-party package on this Python; the ``codec`` byte leaves room for it.

File layout (integers little-endian)::

    magic "AURSNAP\\0" | u16 format | u8 codec | bytes network
    | u32 anchor height | anchor hash(32) | u64 taken_at | u32 leaf count | root(32)
    | u64 raw size | u64 compressed size | payload | SHA-256 of everything before (32)

A file is trusted only after :func:`parse_snapshot` has checked all of it: the trailing
checksum (truncation, bit rot), the sizes, a bounded decompression, every leaf
canonical and in order, and the root recomputed from the leaves.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from hashlib import sha256
from itertools import pairwise
from typing import Any

from aureond.chain.hashing import hash_from_display, hash_to_display
from aureond.chain.tx import OutPoint, compact_size
from aureond.errors import EncodingError, ProofError
from aureond.state.accounts import Account, AccountRegistry, AccountState, account_state
from aureond.state.codec import (
    Reader,
    decode_leaf,
    encode_leaf,
    read_inclusion,
    read_undo,
    write_bytes,
    write_inclusion,
    write_undo,
)
from aureond.state.commitment import (
    inclusion_path,
    leaf_hash,
    root_of,
    tree_levels,
    verify_inclusion,
)
from aureond.state.errors import SnapshotError
from aureond.state.ledger import (
    DEFAULT_MAX_UNDO,
    BlockRef,
    Coin,
    Inclusion,
    Ledger,
    Movement,
    UndoRecord,
)

__all__ = [
    "CODEC_ZLIB",
    "FORMAT_VERSION",
    "MAGIC",
    "Prover",
    "MAX_RAW_SIZE",
    "AccountProof",
    "LeafCache",
    "Snapshot",
    "SnapshotInfo",
    "build_snapshot",
    "parse_snapshot",
    "prove_account",
    "read_info",
    "restore_ledger",
    "seal",
    "verify_account_proof",
]

MAGIC = b"AURSNAP\x00"
FORMAT_VERSION = 1
CODEC_ZLIB = 1
ZLIB_LEVEL = 6
#: Largest decompressed payload accepted (a guard against a decompression bomb).
MAX_RAW_SIZE = 4 << 30
_MAX_NETWORK_NAME = 64
_FIXED = struct.Struct("<I32sQI32sQQ")
_CODECS = {CODEC_ZLIB: "zlib"}


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """A snapshot's header: what it anchors to, its root and its sizes."""

    network: str
    anchor: BlockRef
    taken_at: int
    leaf_count: int
    state_root: bytes
    raw_size: int
    compressed_size: int
    codec: str = "zlib"

    @property
    def ratio(self) -> float:
        """Compressed size over raw size (smaller is better)."""
        return self.compressed_size / self.raw_size if self.raw_size else 1.0

    def to_json(self) -> dict[str, Any]:
        return {"network": self.network, "height": self.anchor.height,
                "block_hash": hash_to_display(self.anchor.hash), "taken_at": self.taken_at,
                "accounts": self.leaf_count, "state_root": self.state_root.hex(),
                "raw_size": self.raw_size, "compressed_size": self.compressed_size,
                "ratio": round(self.ratio, 4), "codec": self.codec}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A verified snapshot: its header, its leaves and the ledger's other parts."""

    info: SnapshotInfo
    leaves: tuple[bytes, ...]
    ids: tuple[str, ...]
    watched: tuple[tuple[bytes, int], ...]
    inclusions: tuple[Inclusion, ...]
    undo: tuple[UndoRecord, ...]

    def states(self) -> Iterable[AccountState]:
        return (decode_leaf(leaf) for leaf in self.leaves)


class LeafCache:
    """Leaf bytes and hashes of accounts that did not change since the last snapshot.

    An entry is reused while the account and the ledger versions of its scripts are
    the same; so a snapshot costs encoding only for the accounts that moved.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Account, tuple[int, ...], bytes, bytes]] = {}

    def leaf(self, account: Account, ledger: Ledger) -> tuple[bytes, bytes]:
        versions = tuple(ledger.version(s) for s in account.scripts)
        hit = self._entries.get(account.id)
        if hit is not None and hit[0] == account and hit[1] == versions:
            return hit[2], hit[3]
        leaf = encode_leaf(account_state(account, ledger))
        digest = leaf_hash(leaf)
        self._entries[account.id] = (account, versions, leaf, digest)
        return leaf, digest

    def retain(self, ids: Iterable[str]) -> None:
        keep = set(ids)
        for gone in [i for i in self._entries if i not in keep]:
            del self._entries[gone]


def _payload(leaves: list[bytes], ledger: Ledger) -> bytes:
    parts = [compact_size(len(leaves))]
    parts += [write_bytes(leaf) for leaf in leaves]
    watched = sorted(ledger.watched.items())
    parts.append(compact_size(len(watched)))
    parts += [write_bytes(s) + struct.pack("<I", h) for s, h in watched]
    inclusions = sorted(ledger.inclusions.values(), key=lambda i: (i.height, i.pos))
    parts.append(compact_size(len(inclusions)))
    parts += [write_inclusion(i) for i in inclusions]
    undo = ledger.undo_records
    parts.append(compact_size(len(undo)))
    parts += [write_undo(u) for u in undo]
    return b"".join(parts)


def build_snapshot(network: str, registry: AccountRegistry, ledger: Ledger, taken_at: int,
                   cache: LeafCache | None = None) -> tuple[SnapshotInfo, bytes]:
    """The snapshot of ``registry`` and ``ledger`` at the ledger's tip: info and file bytes."""
    if ledger.tip is None:
        raise SnapshotError("the ledger has no tip yet: nothing to anchor a snapshot to")
    cache = cache if cache is not None else LeafCache()
    accounts = sorted(registry, key=lambda a: a.id)
    leaves, hashes = [], []
    for account in accounts:
        leaf, digest = cache.leaf(account, ledger)
        leaves.append(leaf)
        hashes.append(digest)
    cache.retain(a.id for a in accounts)
    root = root_of(tree_levels(hashes))
    raw = _payload(leaves, ledger)
    packed = zlib.compress(raw, ZLIB_LEVEL)
    info = SnapshotInfo(network, ledger.tip, taken_at, len(leaves), root, len(raw),
                        len(packed))
    return info, seal(info, packed)


def seal(info: SnapshotInfo, packed: bytes) -> bytes:
    """The file bytes: header, the compressed payload, and the trailing checksum."""
    body = _header(info) + packed
    return body + sha256(body).digest()


def _header(info: SnapshotInfo) -> bytes:
    return (MAGIC + struct.pack("<HB", FORMAT_VERSION, CODEC_ZLIB)
            + write_bytes(info.network.encode("ascii"))
            + _FIXED.pack(info.anchor.height, info.anchor.hash, info.taken_at,
                          info.leaf_count, info.state_root, info.raw_size,
                          info.compressed_size))


def read_info(data: bytes) -> tuple[SnapshotInfo, int]:
    """The header of a snapshot file and the payload's offset (nothing else checked)."""
    try:
        r = Reader(data)
        if r.take(len(MAGIC), "magic") != MAGIC:
            raise SnapshotError("not a snapshot file (bad magic)")
        version = int.from_bytes(r.take(2, "format version"), "little")
        if version != FORMAT_VERSION:
            raise SnapshotError(f"snapshot format {version}, this node reads "
                                f"{FORMAT_VERSION}")
        codec = r.u8("codec")
        if codec not in _CODECS:
            raise SnapshotError(f"unknown compression codec {codec}")
        name = r.bytes_("network")
        if not 1 <= len(name) <= _MAX_NETWORK_NAME or not name.isascii():
            raise SnapshotError("bad network name")
        height, anchor, taken, count, root, raw_size, packed = _FIXED.unpack(
            r.take(_FIXED.size, "header"))
    except EncodingError as exc:
        raise SnapshotError(f"truncated snapshot header: {exc}") from None
    info = SnapshotInfo(name.decode("ascii"), BlockRef(height, anchor), taken, count, root,
                        raw_size, packed, _CODECS[codec])
    return info, r.off


def _inflate(packed: bytes, raw_size: int) -> bytes:
    engine = zlib.decompressobj()
    try:
        raw = engine.decompress(packed, raw_size + 1)
    except zlib.error as exc:
        raise SnapshotError(f"payload does not decompress: {exc}") from None
    if len(raw) != raw_size or not engine.eof or engine.unused_data:
        raise SnapshotError(f"payload decompresses to a different size than the "
                            f"{raw_size} bytes the header states")
    return raw


def parse_snapshot(data: bytes, *, max_raw_size: int = MAX_RAW_SIZE) -> Snapshot:
    """Verify a snapshot file completely; :class:`SnapshotError` says what is wrong."""
    info, off = read_info(data)
    expected = off + info.compressed_size + 32
    if len(data) != expected:
        raise SnapshotError(f"file is {len(data)} bytes, its header says {expected} "
                            "(truncated or appended to)")
    if sha256(data[:-32]).digest() != data[-32:]:
        raise SnapshotError("checksum mismatch: the file is corrupt")
    if info.raw_size > max_raw_size:
        raise SnapshotError(f"payload of {info.raw_size} bytes exceeds the "
                            f"{max_raw_size}-byte limit")
    raw = _inflate(data[off:-32], info.raw_size)
    try:
        r = Reader(raw)
        leaves = tuple(r.bytes_("leaf") for _ in range(r.count("leaf count", 1)))
        watched = tuple((r.bytes_("watched script"), r.u32("start height"))
                        for _ in range(r.count("watched count", 5)))
        inclusions = tuple(read_inclusion(r) for _ in range(r.count("inclusions", 77)))
        undo = tuple(read_undo(r) for _ in range(r.count("undo records", 71)))
        r.end("payload")
        ids = tuple(decode_leaf(leaf).account.id for leaf in leaves)
    except EncodingError as exc:
        raise SnapshotError(f"payload is malformed: {exc}") from None
    if len(leaves) != info.leaf_count:
        raise SnapshotError(f"{len(leaves)} leaves, the header says {info.leaf_count}")
    if any(a >= b for a, b in pairwise(ids)):
        raise SnapshotError("leaves are not in strictly increasing account-id order")
    if root_of(tree_levels([leaf_hash(x) for x in leaves])) != info.state_root:
        raise SnapshotError("the leaves do not hash to the state root")
    return Snapshot(info, leaves, ids, watched, inclusions, undo)


def restore_ledger(snapshot: Snapshot, registry: AccountRegistry, *,
                   max_undo: int = DEFAULT_MAX_UNDO) -> tuple[Ledger, dict[bytes, int]]:
    """A ledger at the snapshot's anchor for the accounts in ``registry``.

    Returns it with the scripts it could not restore: those of accounts added after
    the snapshot (or with an older birthday than it covers), mapped to the height a
    rescan must start from (see :meth:`Ledger.adopt`).
    """
    wanted = registry.start_heights()
    covered = {s: h for s, h in snapshot.watched if s in wanted and h <= wanted[s]}
    rescan = {s: h for s, h in wanted.items() if s not in covered}
    coins: dict[OutPoint, Coin] = {}
    moves: dict[tuple[object, ...], Movement] = {}
    for state in snapshot.states():
        for coin in state.coins:
            if coin.script in covered:
                coins[coin.outpoint] = coin
        for move in state.history:
            if move.coin.script in covered:
                moves[(move.kind, move.txid, move.coin.outpoint)] = move
    keep = frozenset(covered)
    gone = frozenset(s for s, _ in snapshot.watched) - keep
    undo = [u.without(gone) if gone else u for u in snapshot.undo]
    ledger = Ledger(max_undo=max_undo)
    ledger.restore(snapshot.info.anchor, covered, coins.values(), moves.values(),
                   snapshot.inclusions, undo)
    return ledger, rescan


@dataclass(frozen=True, slots=True)
class AccountProof:
    """One account's leaf and its path to a snapshot's state root."""

    network: str
    anchor: BlockRef
    state_root: bytes
    leaf_count: int
    index: int
    leaf: bytes
    path: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {"type": "aureond-account-proof", "network": self.network,
                "height": self.anchor.height, "block_hash": hash_to_display(self.anchor.hash),
                "state_root": self.state_root.hex(), "leaf_count": self.leaf_count,
                "index": self.index, "leaf": self.leaf.hex(),
                "path": [p.hex() for p in self.path]}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> AccountProof:
        """Decode :meth:`to_json`'s shape; ``EncodingError`` naming the field."""
        try:
            if doc.get("type") != "aureond-account-proof":
                raise EncodingError("type: not an aureond-account-proof")
            ints = {k: doc[k] for k in ("height", "leaf_count", "index")}
            for key, value in ints.items():
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise EncodingError(f"{key}: a non-negative integer")
            path = doc["path"]
            if not isinstance(path, list):
                raise EncodingError("path: a list of hex hashes")
            root = bytes.fromhex(doc["state_root"])
            if len(root) != 32:
                raise EncodingError("state_root: 32 bytes of hex")
            return cls(str(doc["network"]),
                       BlockRef(ints["height"], hash_from_display(doc["block_hash"])),
                       root, ints["leaf_count"], ints["index"], bytes.fromhex(doc["leaf"]),
                       tuple(bytes.fromhex(p) for p in path))
        except KeyError as exc:
            raise EncodingError(f"{exc.args[0]}: missing") from None
        except (TypeError, ValueError) as exc:
            raise EncodingError(f"not valid hex or of the wrong type: {exc}") from None


class Prover:
    """Builds a snapshot's tree once and serves any number of account proofs."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._index = {account_id: i for i, account_id in enumerate(snapshot.ids)}
        self._levels = tree_levels([leaf_hash(x) for x in snapshot.leaves])

    def prove(self, account_id: str) -> AccountProof:
        """The inclusion proof of ``account_id`` (``KeyError`` when absent)."""
        i = self._index[account_id]
        info = self.snapshot.info
        return AccountProof(info.network, info.anchor, info.state_root, info.leaf_count, i,
                            self.snapshot.leaves[i], inclusion_path(self._levels, i))


def prove_account(snapshot: Snapshot, account_id: str) -> AccountProof:
    """The inclusion proof of ``account_id`` in ``snapshot`` (``KeyError`` if absent);
    use :class:`Prover` for many."""
    return Prover(snapshot).prove(account_id)


def verify_account_proof(proof: AccountProof, root: bytes | None = None) -> AccountState:
    """The proven account state; ``ProofError`` when it does not lead to the root.

    ``root`` is the state root the caller trusts (default: the one in the proof, which
    then only shows the proof is self-consistent).
    """
    trusted = proof.state_root if root is None else root
    verify_inclusion(proof.leaf, proof.index, proof.leaf_count, proof.path, trusted)
    try:
        return decode_leaf(proof.leaf)
    except EncodingError as exc:
        raise ProofError("bad-leaf", str(exc)) from None
