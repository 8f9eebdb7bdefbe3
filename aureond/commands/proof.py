"""``aureond proof verify``: check a transaction inclusion proof against a given header.

::

    aureond proof verify --network NET --header HEX (PROOF_HEX | --electrum FILE)

``PROOF_HEX`` is ``gettxoutproof`` output. ``--electrum FILE`` is a JSON file holding a
``blockchain.transaction.get_merkle`` answer with ``tx_hash`` added, a list of them, or
an object with such a list under ``"cases"`` (and optionally ``"tx_count"``, which then
tightens the checks). The header's proof of work is checked against its ``bits`` and
the network's limit; that it lies on the network's best chain is not (no node is
consulted): the caller vouches for it.

Exit codes: 0 valid, 1 well formed but not valid, 2 malformed input. The JSON line on
stdout carries ``valid``, ``block_hash``, ``txids`` and ``positions``, or the
``reason`` a proof was refused.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from aureond.chain.header import BlockHeader
from aureond.chain.params import get_network, network_names
from aureond.chain.proof import (
    ElectrumProof,
    ProofMatch,
    ProofResult,
    check_header_pow,
    parse_electrum_proof,
    verify_electrum,
    verify_txoutproof,
)
from aureond.commands.common import EXIT_INVALID, EXIT_MALFORMED, EXIT_OK, emit_json, fail_json
from aureond.errors import ConfigError, EncodingError, ProofError

__all__ = ["register"]

#: Largest --electrum file read; a real file holds a few dozen branches.
MAX_ELECTRUM_FILE = 16 * 1024 * 1024


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "proof", help="transaction inclusion proofs",
        description="Work with transaction inclusion proofs.")
    sub = parser.add_subparsers(dest="proof_command", metavar="ACTION", required=True)
    verify = sub.add_parser(
        "verify", help="verify a proof against a block header",
        description="Verify a gettxoutproof (hex) or an Electrum get_merkle proof against "
                    "a block header whose proof of work is checked. Exit 0 valid, "
                    "1 invalid, 2 malformed input.")
    verify.add_argument("--network", required=True, choices=network_names(),
                        help="network whose proof-of-work limit applies")
    verify.add_argument("--header", required=True, metavar="HEX",
                        help="the trusted 80-byte block header, hex")
    source = verify.add_mutually_exclusive_group(required=True)
    source.add_argument("proof_hex", nargs="?", metavar="PROOF_HEX",
                        help="gettxoutproof output (merkleblock payload), hex")
    source.add_argument("--electrum", metavar="FILE", type=Path,
                        help="JSON file with Electrum get_merkle proof(s)")
    verify.set_defaults(handler=_verify)


def _load_electrum(path: Path) -> tuple[list[ElectrumProof], int | None]:
    """The proofs in ``path`` and a transaction count if the file states one."""
    try:
        with path.open("rb") as fh:
            text = fh.read(MAX_ELECTRUM_FILE + 1)
    except OSError as exc:
        raise EncodingError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(text) > MAX_ELECTRUM_FILE:
        raise EncodingError(f"{path} is larger than {MAX_ELECTRUM_FILE} bytes")
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EncodingError(f"{path} is not valid JSON: {exc}") from exc
    tx_count: int | None = None
    if isinstance(doc, dict) and "cases" in doc:
        raw_count = doc.get("tx_count")
        if raw_count is not None:
            if not isinstance(raw_count, int) or isinstance(raw_count, bool):
                raise EncodingError(f"tx_count: expected an integer, got {raw_count!r}")
            tx_count = raw_count
        doc = doc["cases"]
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise EncodingError(f"{path} holds no proof")
    proofs = []
    for i, item in enumerate(items):
        try:
            proofs.append(parse_electrum_proof(item))
        except EncodingError as exc:
            raise EncodingError(f"proof {i}: {exc}") from exc
    return proofs, tx_count


def _verify_electrum_file(path: Path, header: BlockHeader) -> ProofResult:
    proofs, tx_count = _load_electrum(path)
    matches: list[ProofMatch] = []
    for i, p in enumerate(proofs):
        try:
            result = verify_electrum(p.tx_hash, p.merkle, p.pos, header, tx_count)
        except ProofError as exc:
            raise ProofError(exc.reason, f"proof {i} (pos {p.pos}): {exc.detail}") from exc
        matches.extend(result.matches)
    return ProofResult(True, header.hash, tuple(matches))


def _verify(args: argparse.Namespace) -> int:
    try:
        params = get_network(args.network)
    except ConfigError as exc:
        return fail_json(EXIT_MALFORMED, str(exc))
    try:
        header = BlockHeader.from_hex(args.header)
    except EncodingError as exc:
        return fail_json(EXIT_MALFORMED, f"--header: {exc}")
    try:
        check_header_pow(header, params.pow_limit, pow_hash=params.pow_hash)
        if args.electrum is not None:
            result = _verify_electrum_file(args.electrum, header)
        else:
            try:
                raw = bytes.fromhex(args.proof_hex)
            except ValueError as exc:
                raise EncodingError("PROOF_HEX is not valid hex") from exc
            result = verify_txoutproof(raw, header)
    except EncodingError as exc:
        return fail_json(EXIT_MALFORMED, f"malformed proof: {exc}")
    except ProofError as exc:
        return fail_json(EXIT_INVALID, f"proof not valid: {exc}", valid=False,
                    reason=exc.reason, block_hash=header.hash_hex)
    emit_json({"ok": True, **result.to_json(),
               "matched": [{"pos": m.pos, "txid": m.txid_hex} for m in result.matches]})
    return EXIT_OK
