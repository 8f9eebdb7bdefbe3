"""The state on disk: the accounts file and the snapshot files, written atomically.

Layout under the state directory::

    accounts.json                         every account (the source of truth for them)
    snapshots/<height>-<hash>.snap        one file per snapshot (newest ``keep`` kept)

Every write goes to a temporary file in the same directory, is fsynced, renamed over
the target, and the directory is fsynced: after a crash a file is the old version or
the new one, never a mix. A leftover temporary file is removed on open.

Restoring takes the newest snapshot whose anchor is on our best chain; a file that is
corrupt, truncated, foreign or on a stale branch is skipped with a log line saying
why, never trusted. The ledger between that anchor and the tip is replayed from
blocks, so losing the newest snapshot costs a replay, not correctness.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from aureond.chain.hashing import hash_to_display
from aureond.errors import StoreError
from aureond.state.accounts import MAX_ACCOUNTS, Account, AccountRegistry
from aureond.state.errors import SnapshotError
from aureond.state.ledger import BlockRef
from aureond.state.snapshot import Snapshot, SnapshotInfo, parse_snapshot, read_info

__all__ = ["DEFAULT_KEEP", "StateStore", "StoredSnapshot", "atomic_write"]

#: Snapshots kept on disk unless configured otherwise.
DEFAULT_KEEP = 100
_NAME = re.compile(r"(\d{10})-([0-9a-f]{64})\.snap")
_TMP_SUFFIX = ".tmp"
_HEADER_PROBE = 512
_log = structlog.get_logger("aureond.state")


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``: temp file, fsync, rename, fsync the directory."""
    tmp = path.with_name(path.name + _TMP_SUFFIX)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from exc


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    """A snapshot file on disk and its (unverified) header."""

    path: Path
    info: SnapshotInfo


class StateStore:
    """Accounts and snapshots under ``directory`` for ``network``."""

    def __init__(self, directory: Path, network: str, *, keep: int = DEFAULT_KEEP) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self.directory = directory
        self.network = network
        self.keep = keep
        self._snapshots = directory / "snapshots"
        try:
            self._snapshots.mkdir(parents=True, exist_ok=True)
            for leftover in [*directory.glob("*" + _TMP_SUFFIX),
                             *self._snapshots.glob("*" + _TMP_SUFFIX)]:
                leftover.unlink()
        except OSError as exc:
            raise StoreError(f"cannot open the state directory {directory}: "
                             f"{exc.strerror or exc}") from exc

    # --- accounts -----------------------------------------------------------------

    @property
    def accounts_path(self) -> Path:
        return self.directory / "accounts.json"

    def save_accounts(self, registry: AccountRegistry) -> None:
        doc = {"network": self.network, "accounts": [
            {"id": a.id, "label": a.label, "birthday": a.birthday,
             "scripts": [s.hex() for s in a.scripts]}
            for a in sorted(registry, key=lambda a: a.id)]}
        atomic_write(self.accounts_path, json.dumps(doc, separators=(",", ":")).encode())

    def load_accounts(self, *, max_accounts: int | None = None) -> AccountRegistry:
        """The saved accounts (an empty registry when none were saved yet)."""
        path = self.accounts_path
        limit = MAX_ACCOUNTS if max_accounts is None else max_accounts
        if not path.exists():
            return AccountRegistry(max_accounts=limit)
        try:
            doc = json.loads(path.read_bytes())
            if doc["network"] != self.network:
                raise StoreError(f"{path} belongs to network {doc['network']!r}, "
                                 f"not {self.network!r}")
            accounts = [Account(str(a["id"]), str(a["label"]),
                                tuple(sorted(bytes.fromhex(s) for s in a["scripts"])),
                                int(a["birthday"])) for a in doc["accounts"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"cannot read {path}: {exc}; restore it from a backup or "
                             "move it away to start with no accounts") from exc
        return AccountRegistry(accounts, max_accounts=limit)

    # --- snapshots ----------------------------------------------------------------

    def _path_for(self, anchor: BlockRef) -> Path:
        return self._snapshots / f"{anchor.height:010d}-{hash_to_display(anchor.hash)}.snap"

    def write_snapshot(self, info: SnapshotInfo, data: bytes) -> Path:
        """Store a snapshot file and prune the oldest beyond ``keep``."""
        path = self._path_for(info.anchor)
        atomic_write(path, data)
        self.prune()
        return path

    def list_snapshots(self) -> list[StoredSnapshot]:
        """Snapshot files, newest anchor first; unreadable headers are skipped (logged)."""
        out = []
        for path in self._snapshots.iterdir():
            if not _NAME.fullmatch(path.name):
                continue
            try:
                with path.open("rb") as fh:
                    info, _ = read_info(fh.read(_HEADER_PROBE))
            except (OSError, SnapshotError) as exc:
                _log.warning("state.snapshot.unreadable", file=path.name, reason=str(exc))
                continue
            out.append(StoredSnapshot(path, info))
        out.sort(key=lambda s: (s.info.anchor.height, s.info.taken_at), reverse=True)
        return out

    def prune(self) -> list[Path]:
        """Delete all but the ``keep`` newest snapshots; returns what was deleted."""
        files = sorted((p for p in self._snapshots.iterdir() if _NAME.fullmatch(p.name)),
                       reverse=True)
        gone = files[self.keep:]
        for path in gone:
            try:
                path.unlink()
            except OSError as exc:
                raise StoreError(f"cannot delete {path}: {exc.strerror or exc}") from exc
        return gone

    def load(self, path: Path) -> Snapshot:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SnapshotError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
        snapshot = parse_snapshot(data)
        if snapshot.info.network != self.network:
            raise SnapshotError(f"snapshot of network {snapshot.info.network!r}")
        return snapshot

    def newest_on_chain(self, on_best_chain: Callable[[BlockRef], bool],
                        below: int | None = None) -> Snapshot | None:
        """The newest valid snapshot whose anchor is on our best chain (and, with
        ``below``, whose anchor height is below it); every file skipped is logged."""
        for stored in self.list_snapshots():
            anchor = stored.info.anchor
            if below is not None and anchor.height >= below:
                continue
            if not on_best_chain(anchor):
                _log.warning("state.snapshot.skipped", file=stored.path.name,
                             reason="stale-branch", height=anchor.height)
                continue
            try:
                return self.load(stored.path)
            except SnapshotError as exc:
                _log.warning("state.snapshot.skipped", file=stored.path.name,
                             reason=str(exc), height=anchor.height)
        return None
