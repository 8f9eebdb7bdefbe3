"""``POST /v1/proofs/verify``: an inclusion proof checked against OUR best chain.

The request names a block (the header inside a ``gettxoutproof``, or an Electrum
``block_height`` / ``block_hash``); the block must be on our best chain, and the proof
is then verified against the header from our own store, never against a header the
client sent. Outcomes:

* the proof verifies: ``{"valid": true, "block_hash", "height", "confirmations",
  "txids", "positions"}``;
* it is well formed but does not verify: 200 ``{"valid": false, "reason", "message",
  ...}`` (``reason`` is the :class:`~aureond.errors.ProofError` tag);
* the body is not a proof (shape, types, hex, trailing bytes): 400;
* the block is unknown or not on our best chain: 404.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aureond.api.render import confirmations
from aureond.api.view import MAX_HEIGHT, HeaderInfo, NodeView
from aureond.chain.hashing import hash_to_display
from aureond.chain.header import HEADER_SIZE, BlockHeader
from aureond.chain.proof import (
    ProofMatch,
    ProofResult,
    parse_electrum_proof,
    verify_electrum,
    verify_txoutproof,
)
from aureond.errors import ApiError, EncodingError, ProofError

__all__ = ["ProofAnswer", "check_proof"]

_BIP37_KEYS = frozenset({"proof"})
_ELECTRUM_KEYS = frozenset({"tx_hash", "merkle", "pos", "block_height", "block_hash"})
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")
_HASH = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True, slots=True)
class ProofAnswer:
    """The outcome of a well-formed proof about a block on our best chain."""

    valid: bool
    block_hash: bytes
    height: int
    confirmations: int
    matches: tuple[ProofMatch, ...] = ()
    reason: str | None = None
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"valid": self.valid,
                                "block_hash": hash_to_display(self.block_hash),
                                "height": self.height, "confirmations": self.confirmations}
        if self.valid:
            body["txids"] = [m.txid_hex for m in self.matches]
            body["positions"] = [m.pos for m in self.matches]
        else:
            body["reason"] = self.reason
            body["message"] = self.message
        return body


def _bad(message: str) -> ApiError:
    return ApiError(400, "malformed_proof", message)


def _on_best_chain(info: HeaderInfo | None, what: str) -> HeaderInfo:
    if info is None:
        raise ApiError(404, "unknown_block", f"{what} is not a block we know")
    if not info.on_best_chain:
        raise ApiError(404, "block_not_on_best_chain",
                       f"{what} is on a side branch, not on our best chain")
    return info


def _answer(info: HeaderInfo, tip_height: int,
            check: Callable[[], ProofResult]) -> ProofAnswer:
    """Run ``check()`` (a verifier returning a ProofResult) and shape the outcome."""
    depth = confirmations(info, tip_height)
    try:
        result = check()
    except ProofError as exc:
        return ProofAnswer(False, info.header.hash, info.height, depth,
                           reason=exc.reason, message=str(exc))
    except EncodingError as exc:
        raise _bad(str(exc)) from exc
    return ProofAnswer(True, info.header.hash, info.height, depth, result.matches)


def _check_txoutproof(text: object, view: NodeView) -> ProofAnswer:
    if not isinstance(text, str):
        raise _bad(f"proof: expected a hex string, got {type(text).__name__}")
    if not _HEX.fullmatch(text):
        raise _bad("proof: not an even number of hex digits")
    raw = bytes.fromhex(text)
    if len(raw) < HEADER_SIZE:
        raise _bad(f"proof: {len(raw)} bytes is shorter than the {HEADER_SIZE}-byte header "
                   "it starts with")
    claimed = BlockHeader.parse(raw[:HEADER_SIZE])
    info = _on_best_chain(view.header_by_hash(claimed.hash), f"block {claimed.hash_hex}")
    tip_height = view.tip().height
    return _answer(info, tip_height, lambda: verify_txoutproof(raw, info.header))


def _locate(body: Mapping[str, Any], view: NodeView) -> HeaderInfo:
    height = body.get("block_height")
    if height is not None and (not isinstance(height, int) or isinstance(height, bool)
                               or height < 0):
        raise _bad(f"block_height: expected a non-negative integer, got {height!r:.40}")
    block_hash = body.get("block_hash")
    if block_hash is not None:
        if not isinstance(block_hash, str) or not _HASH.fullmatch(block_hash):
            raise _bad("block_hash: expected 64 hex digits")
        info = _on_best_chain(view.header_by_hash(bytes.fromhex(block_hash)[::-1]),
                              f"block {block_hash.lower()}")
        if height is not None and height != info.height:
            raise _bad(f"block_hash is at height {info.height} on our chain, "
                       f"not {height}")
        return info
    if height is None:
        raise _bad("name the block: give block_height or block_hash")
    found = view.header_at(height) if height <= MAX_HEIGHT else None
    return _on_best_chain(found, f"height {height}")


def _check_electrum(body: Mapping[str, Any], view: NodeView) -> ProofAnswer:
    try:
        proof = parse_electrum_proof({k: body[k] for k in ("tx_hash", "merkle", "pos")
                                      if k in body})
    except EncodingError as exc:
        raise _bad(str(exc)) from exc
    info = _locate(body, view)
    tip_height = view.tip().height
    return _answer(info, tip_height,
                   lambda: verify_electrum(proof.tx_hash, proof.merkle, proof.pos,
                                           info.header))


def check_proof(body: Mapping[str, Any], view: NodeView) -> ProofAnswer:
    """Check one request body (see the module docstring); ``ApiError`` for 400/404."""
    keys = set(body)
    if "proof" in keys:
        extra = keys - _BIP37_KEYS
        if extra:
            raise _bad(f"unexpected keys beside 'proof': {', '.join(sorted(extra))[:120]}")
        return _check_txoutproof(body["proof"], view)
    extra = keys - _ELECTRUM_KEYS
    if extra:
        raise _bad(f"unknown keys: {', '.join(sorted(extra))[:120]}; send "
                   "{'proof': hex} or {'tx_hash', 'merkle', 'pos', 'block_height' | "
                   "'block_hash'}")
    return _check_electrum(body, view)
