"""Transaction inclusion proofs checked against a TRUSTED header.

Two forms: a BIP37 ``merkleblock`` (Bitcoin Core ``gettxoutproof``), whose embedded
header must equal the trusted one, and an Electrum ``blockchain.transaction.get_merkle``
branch. Whoever calls these vouches for the header (it is on our best chain, or its
proof of work was checked with :func:`check_header_pow` for a stand-alone check).

A proof that verifies yields a :class:`ProofResult`; one that does not raises
:class:`~aureond.errors.ProofError` (``reason`` says why); bytes or JSON that do not
decode raise :class:`~aureond.errors.EncodingError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aureond.chain.hashing import hash_from_display, hash_to_display
from aureond.chain.header import BlockHeader
from aureond.chain.merkle import branch_root
from aureond.chain.partial_merkle import MAX_PARTIAL_TREE_TRANSACTIONS, MerkleBlock
from aureond.chain.pow import reference_hasher
from aureond.chain.target import bits_to_target
from aureond.errors import EncodingError, ProofError

__all__ = [
    "ElectrumProof",
    "ProofMatch",
    "ProofResult",
    "check_header_pow",
    "parse_electrum_proof",
    "verify_electrum",
    "verify_txoutproof",
]


@dataclass(frozen=True, slots=True)
class ProofMatch:
    """A proven transaction: its position in the block and its wire-order txid."""

    pos: int
    txid: bytes

    @property
    def txid_hex(self) -> str:
        return hash_to_display(self.txid)


@dataclass(frozen=True, slots=True)
class ProofResult:
    """A proof that verified against the trusted header ``block_hash``."""

    valid: bool
    block_hash: bytes
    matches: tuple[ProofMatch, ...]

    @property
    def block_hash_hex(self) -> str:
        return hash_to_display(self.block_hash)

    def to_json(self) -> dict[str, Any]:
        """Display-order hex, as the CLI and the HTTP API print it."""
        return {
            "valid": self.valid,
            "block_hash": self.block_hash_hex,
            "txids": [m.txid_hex for m in self.matches],
            "positions": [m.pos for m in self.matches],
        }


@dataclass(frozen=True, slots=True)
class ElectrumProof:
    """A decoded ``get_merkle`` answer (hashes in wire order)."""

    tx_hash: bytes
    merkle: tuple[bytes, ...]
    pos: int
    block_height: int | None = None


def check_header_pow(header: BlockHeader, pow_limit: int | None = None, *,
                     pow_hash: str = "sha256d") -> None:
    """The header's proof-of-work hash (``pow_hash``: ``sha256d``, the block hash, or
    ``scrypt``) meets its own ``bits`` (and ``bits`` is within ``pow_limit``).

    Raises ``ProofError`` with reason ``bad-bits``, ``bits-above-limit`` or
    ``high-hash``. This checks work, not chain membership.
    """
    try:
        target = bits_to_target(header.bits)
    except EncodingError as exc:
        raise ProofError("bad-bits", str(exc)) from exc
    if pow_limit is not None and target > pow_limit:
        raise ProofError("bits-above-limit",
                         f"bits 0x{header.bits:08x} is easier than the network's limit")
    hasher = reference_hasher(pow_hash)
    pow_ = header.hash if hasher is None else hasher(header.serialize())[0]
    if int.from_bytes(pow_, "little") > target:
        raise ProofError("high-hash", f"the {pow_hash} proof of work of block "
                         f"{header.hash_hex} does not meet its bits 0x{header.bits:08x}")


def verify_txoutproof(proof: bytes | bytearray | memoryview, trusted_header: BlockHeader,
                      max_transactions: int = MAX_PARTIAL_TREE_TRANSACTIONS) -> ProofResult:
    """Verify a ``gettxoutproof`` / ``merkleblock`` payload against ``trusted_header``."""
    block = MerkleBlock.parse(proof, max_transactions)
    if block.header != trusted_header:
        raise ProofError("header-mismatch", f"the proof is for block {block.header.hash_hex}, "
                         f"not {trusted_header.hash_hex}")
    found = block.tree.extract()
    if found.root != trusted_header.merkle_root:
        raise ProofError("root-mismatch", "the partial tree does not lead to the header's "
                         "merkle root")
    if not found.matches:
        raise ProofError("no-match", "the partial tree proves no transaction")
    return ProofResult(True, trusted_header.hash,
                       tuple(ProofMatch(pos, txid) for pos, txid in found.matches))


def verify_electrum(tx_hash: bytes, merkle: Sequence[bytes], pos: int,
                    trusted_header: BlockHeader, tx_count: int | None = None) -> ProofResult:
    """Verify a ``get_merkle`` branch (wire-order hashes) against ``trusted_header``.

    Give ``tx_count`` when it is known from a trusted source: the branch must then have
    exactly the tree's depth and shape.
    """
    if branch_root(tx_hash, merkle, pos, tx_count) != trusted_header.merkle_root:
        raise ProofError("root-mismatch", "the branch does not lead to the header's "
                         "merkle root")
    return ProofResult(True, trusted_header.hash, (ProofMatch(pos, tx_hash),))


def _hash_field(value: object, name: str) -> bytes:
    if not isinstance(value, str):
        raise EncodingError(f"{name}: expected a 64-digit hex string, got "
                            f"{type(value).__name__}")
    try:
        return hash_from_display(value)
    except EncodingError as exc:
        raise EncodingError(f"{name}: {exc}") from exc


def parse_electrum_proof(obj: Mapping[str, Any]) -> ElectrumProof:
    """Decode ``{"tx_hash", "merkle": [hex, ...], "pos"[, "block_height"]}``.

    Hashes are display-order hex as Electrum servers send them. Shape problems raise
    ``EncodingError`` naming the field.
    """
    if not isinstance(obj, Mapping):
        raise EncodingError(f"an Electrum proof is a JSON object, got {type(obj).__name__}")
    for key in ("tx_hash", "merkle", "pos"):
        if key not in obj:
            raise EncodingError(f"{key}: missing from the Electrum proof")
    merkle = obj["merkle"]
    if not isinstance(merkle, list):
        raise EncodingError("merkle: expected a list of hex hashes")
    pos = obj["pos"]
    if not isinstance(pos, int) or isinstance(pos, bool) or pos < 0:
        raise EncodingError(f"pos: expected a non-negative integer, got {pos!r}")
    height = obj.get("block_height")
    if height is not None and (not isinstance(height, int) or isinstance(height, bool)
                               or height < 0):
        raise EncodingError(f"block_height: expected a non-negative integer, got {height!r}")
    return ElectrumProof(
        tx_hash=_hash_field(obj["tx_hash"], "tx_hash"),
        merkle=tuple(_hash_field(m, f"merkle[{i}]") for i, m in enumerate(merkle)),
        pos=pos,
        block_height=height,
    )
