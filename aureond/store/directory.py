"""Claiming a data directory: the process lock and the identity check.

One process at a time: ``LOCK`` is held with ``flock`` while the store is open (the
kernel drops it when the process dies, so a crash leaves nothing to clean up). The
meta file is written before any header file exists; header files without one mean the
directory is not ours, and it is refused rather than overwritten.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from aureond.errors import StoreError
from aureond.store.meta import META_FILE, StoreMeta, read_meta, write_meta
from aureond.store.records import HEADERS_FILE, INDEX_FILE

__all__ = ["LOCK_FILE", "claim_directory"]

LOCK_FILE = "LOCK"


def claim_directory(directory: Path, wanted: StoreMeta) -> tuple[int, bool]:
    """Lock ``directory`` and check (or write) its meta file: (lock fd, newly created).

    The caller closes the lock fd to release the directory.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(f"cannot use data directory {directory}: {exc}") from exc
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise StoreError(f"{directory} is in use by another process; stop it or use "
                             "another --data-dir") from exc
        existing = read_meta(directory)
        if existing is not None:
            existing.check_matches(wanted, directory / META_FILE)
            return lock_fd, False
        for name in (HEADERS_FILE, INDEX_FILE):
            with contextlib.suppress(FileNotFoundError):
                if (directory / name).stat().st_size:
                    raise StoreError(f"{directory / name} exists but {directory} has no "
                                     f"{META_FILE}; this is not an aureond store, use "
                                     "another --data-dir")
        write_meta(directory, wanted)
    except BaseException:
        os.close(lock_fd)
        raise
    return lock_fd, True
