"""A side branch on disk, and the journal that makes a deep reorg crash-safe.

A branch that forks off the stored chain below the in-memory window is written here,
not to the header store, while it is redownloaded (its work was proven by the presync,
so nothing below minimum chain work is written). When it wins, the reorg runs as:

1. the branch file is fsynced;
2. the commit record ``reorg.commit`` (fork height and hash, count, last hash, SHA-256
   of the headers) is written atomically: this is the commit point;
3. the store is truncated to the fork height, the branch appended and fsynced;
4. the record, then the branch file, is removed.

``recover`` runs on every open: with a valid record it redoes step 3 (idempotent) and
finishes step 4; without one it removes leftover branch files. So ``kill -9`` at any
moment leaves either the old chain (before 2) or the new one (from 2 on), never a mix.

File ``fork-<name>.dat``: 8-byte magic ``AURFORK1``, u64 fork height, the 32-byte
fork hash, then raw 80-byte headers.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from aureond.chain.hashing import dsha256
from aureond.chain.header import HEADER_SIZE
from aureond.errors import StoreError
from aureond.store.atomic import atomic_write, fsync_dir
from aureond.store.headers import HeaderStore

__all__ = ["COMMIT_FILE", "ForkFile", "RecoveryReport", "apply_branch", "recover"]

COMMIT_FILE = "reorg.commit"
_MAGIC = b"AURFORK1"
_HEAD = struct.Struct("<8sQ32s")
_COMMIT = struct.Struct("<8sQ32sQ32s32s")
_COMMIT_MAGIC = b"AURREORG"
_CHUNK = 2000


class ForkFile:
    """A branch being written: headers above ``fork_height`` (whose hash is ``fork_hash``)."""

    def __init__(self, directory: Path, name: str, fork_height: int,
                 fork_hash: bytes) -> None:
        self.path = directory / f"fork-{name}.dat"
        self.fork_height = fork_height
        self.fork_hash = fork_hash
        self.count = 0
        self.last_hash = fork_hash
        self._sha = hashlib.sha256()
        try:
            self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC,
                                           0o644)
            os.write(self._fd, _HEAD.pack(_MAGIC, fork_height, fork_hash))
        except OSError as exc:
            raise StoreError(f"cannot create {self.path}: {exc}") from exc

    def append(self, raw: bytes) -> None:
        """Append connected raw headers (the first links to the last one written)."""
        if not raw:
            return
        if len(raw) % HEADER_SIZE or raw[4:36] != self.last_hash:
            raise StoreError(f"{self.path}: headers do not continue the branch")
        fd = self._check()
        try:
            view = memoryview(raw)
            while view:
                view = view[os.write(fd, view):]
        except OSError as exc:
            raise StoreError(f"cannot write {self.path}: {exc}") from exc
        self._sha.update(raw)
        self.count += len(raw) // HEADER_SIZE
        self.last_hash = dsha256(raw[-HEADER_SIZE:])

    def _check(self) -> int:
        if self._fd is None:
            raise StoreError(f"{self.path} is closed")
        return self._fd

    def commit(self) -> None:
        """Steps 1 and 2: make the branch durable and write the commit record."""
        fd = self._check()
        try:
            os.fsync(fd)
        except OSError as exc:
            raise StoreError(f"cannot fsync {self.path}: {exc}") from exc
        record = _COMMIT.pack(_COMMIT_MAGIC, self.fork_height, self.fork_hash, self.count,
                              self.last_hash, self._sha.digest())
        body = record + self.path.name.encode()
        try:
            atomic_write(self.path.parent / COMMIT_FILE, body + hashlib.sha256(body).digest())
        except OSError as exc:
            raise StoreError(f"cannot write the reorg commit record: {exc}") from exc

    def headers(self) -> Iterator[bytes]:
        """The branch's raw headers, in chunks."""
        yield from _read_headers(self.path, self.count)

    def discard(self) -> None:
        """Close and remove the file (the branch is given up, or applied)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        with contextlib.suppress(OSError):
            self.path.unlink()


def _read_headers(path: Path, count: int) -> Iterator[bytes]:
    try:
        with path.open("rb") as f:
            f.seek(_HEAD.size)
            left = count
            while left:
                n = min(left, _CHUNK)
                blob = f.read(n * HEADER_SIZE)
                if len(blob) != n * HEADER_SIZE:
                    raise StoreError(f"{path} ends before its {count} headers")
                yield blob
                left -= n
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc}") from exc


def apply_branch(store: HeaderStore, fork_height: int, chunks: Iterator[bytes]) -> None:
    """Step 3: truncate ``store`` to ``fork_height`` and append the branch, fsynced."""
    store.truncate(fork_height)
    for blob in chunks:
        store.append_raw([(blob[i:i + HEADER_SIZE], dsha256(blob[i:i + HEADER_SIZE]))
                          for i in range(0, len(blob), HEADER_SIZE)])
    store.flush()


def finish(directory: Path, fork: ForkFile | None = None) -> None:
    """Step 4: remove the commit record, then the branch file."""
    with contextlib.suppress(FileNotFoundError):
        (directory / COMMIT_FILE).unlink()
    if fork is not None:
        fork.discard()
    fsync_dir(directory)


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What ``recover`` found: a reorg redone (its fork height and length) and how many
    leftover branch files it removed."""

    redone: bool
    fork_height: int
    count: int
    removed: int


def recover(store: HeaderStore) -> RecoveryReport:
    """Finish a deep reorg a crash interrupted, and remove leftover branch files."""
    directory = store.directory
    record_path = directory / COMMIT_FILE
    redone, fork_height, count = False, -1, 0
    if record_path.exists():
        try:
            data = record_path.read_bytes()
        except OSError as exc:
            raise StoreError(f"cannot read {record_path}: {exc}") from exc
        parsed = _parse_commit(data)
        if parsed is not None:
            fork_height, fork_hash, count, last_hash, digest, name = parsed
            path = directory / name
            if (store.hash_at(fork_height) == fork_hash and path.exists()
                    and _digest(path, count) == digest):
                if store.tip_hash != last_hash or store.tip_height != fork_height + count:
                    apply_branch(store, fork_height, _read_headers(path, count))
                redone = True
        with contextlib.suppress(FileNotFoundError):
            record_path.unlink()
    removed = 0
    for leftover in directory.glob("fork-*.dat"):
        with contextlib.suppress(OSError):
            leftover.unlink()
            removed += 1
    if redone or removed:
        fsync_dir(directory)
    return RecoveryReport(redone, fork_height, count, removed)


def _parse_commit(data: bytes) -> tuple[int, bytes, int, bytes, bytes, str] | None:
    if len(data) < _COMMIT.size + 32 or hashlib.sha256(data[:-32]).digest() != data[-32:]:
        return None
    magic, fork_height, fork_hash, count, last_hash, digest = _COMMIT.unpack(
        data[:_COMMIT.size])
    if magic != _COMMIT_MAGIC:
        return None
    name = data[_COMMIT.size:-32].decode("ascii", "replace")
    if "/" in name or not name.startswith("fork-"):
        return None
    return fork_height, fork_hash, count, last_hash, digest, name


def _digest(path: Path, count: int) -> bytes | None:
    sha = hashlib.sha256()
    try:
        for blob in _read_headers(path, count):
            sha.update(blob)
    except StoreError:
        return None
    return sha.digest()
