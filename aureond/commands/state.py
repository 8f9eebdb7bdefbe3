"""``aureond state``: check snapshots and account proofs offline.

::

    aureond state verify FILE [--root HEX]     a snapshot file, or an account proof (JSON)
    aureond state prove SNAPSHOT ACCOUNT_ID    an account's inclusion proof, as JSON

``verify`` on a snapshot checks the checksum, the bounded decompression, every leaf
(canonical, in order) and the state root; on an account proof, the path from the leaf
to the root (``--root`` gives the root you trust; without it, the proof's own root).
Exit codes: 0 valid, 1 not valid, 2 unreadable input.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from aureond.commands.common import EXIT_INVALID, EXIT_MALFORMED, EXIT_OK, emit_json, fail_json
from aureond.errors import EncodingError, ProofError
from aureond.state.errors import SnapshotError
from aureond.state.snapshot import (
    MAGIC,
    AccountProof,
    parse_snapshot,
    prove_account,
    verify_account_proof,
)

__all__ = ["register"]

#: Largest account proof file read (a proof is a few kilobytes).
MAX_PROOF_FILE = 16 * 1024 * 1024


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("state", help="state snapshots and account proofs",
                                   description="Check state snapshots and account proofs.")
    sub = parser.add_subparsers(dest="state_command", metavar="ACTION", required=True)
    verify = sub.add_parser(
        "verify", help="verify a snapshot file or an account proof",
        description="Verify a snapshot (checksum, decompression, leaves, state root) or "
                    "an account proof (JSON from 'state prove'). Exit 0 valid, 1 invalid, "
                    "2 unreadable.")
    verify.add_argument("file", type=Path, metavar="FILE")
    verify.add_argument("--root", metavar="HEX", help="the state root you trust (proofs)")
    verify.set_defaults(handler=_verify)
    prove = sub.add_parser("prove", help="an account's inclusion proof from a snapshot",
                           description="Print the inclusion proof of one account in a "
                                       "snapshot as JSON (check it with 'state verify').")
    prove.add_argument("snapshot", type=Path, metavar="SNAPSHOT")
    prove.add_argument("account_id", metavar="ACCOUNT_ID")
    prove.set_defaults(handler=_prove)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise EncodingError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _verify(args: argparse.Namespace) -> int:
    try:
        data = _read(args.file)
    except EncodingError as exc:
        return fail_json(EXIT_MALFORMED, str(exc))
    if data.startswith(MAGIC):
        try:
            snapshot = parse_snapshot(data)
        except SnapshotError as exc:
            return fail_json(EXIT_INVALID, f"snapshot not valid: {exc}", valid=False)
        emit_json({"ok": True, "valid": True, "kind": "snapshot", **snapshot.info.to_json()})
        return EXIT_OK
    try:
        if len(data) > MAX_PROOF_FILE:
            raise EncodingError(f"{args.file} is larger than {MAX_PROOF_FILE} bytes")
        doc = json.loads(data)
        if not isinstance(doc, dict):
            raise EncodingError("an account proof is a JSON object")
        proof = AccountProof.from_json(doc)
        root = bytes.fromhex(args.root) if args.root is not None else None
        if root is not None and len(root) != 32:
            raise EncodingError("--root is 32 bytes of hex")
    except (ValueError, UnicodeDecodeError, EncodingError) as exc:
        return fail_json(EXIT_MALFORMED, f"neither a snapshot nor an account proof: {exc}")
    try:
        state = verify_account_proof(proof, root)
    except ProofError as exc:
        return fail_json(EXIT_INVALID, f"account proof not valid: {exc}", valid=False,
                    reason=exc.reason)
    emit_json({"ok": True, "valid": True, "kind": "account-proof",
               "state_root": (root or proof.state_root).hex(),
               "height": proof.anchor.height, "id": state.account.id,
               "balance_sat": state.balance, "utxos": len(state.coins),
               "history": len(state.history)})
    return EXIT_OK


def _prove(args: argparse.Namespace) -> int:
    try:
        snapshot = parse_snapshot(_read(args.snapshot))
    except EncodingError as exc:
        return fail_json(EXIT_MALFORMED, str(exc))
    except SnapshotError as exc:
        return fail_json(EXIT_INVALID, f"snapshot not valid: {exc}", valid=False)
    try:
        proof = prove_account(snapshot, args.account_id)
    except KeyError:
        return fail_json(EXIT_INVALID, f"no account {args.account_id} in the snapshot")
    emit_json(proof.to_json())
    return EXIT_OK
