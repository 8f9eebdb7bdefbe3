"""The store's identity file, ``meta.json``: which chain a data directory holds.

It names the network, the anchor (height, hash, cumulative chain work at the anchor)
and the format version. It is written once, atomically, before any header file exists,
so a directory with header files but no meta file was not made by this store. Opening
a directory with a different network, anchor or format is refused with a
:class:`~aureond.errors.StoreError` that says what to do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aureond.chain.hashing import hash_from_display, hash_to_display
from aureond.errors import EncodingError, StoreError
from aureond.store.atomic import atomic_write

__all__ = ["FORMAT_VERSION", "META_FILE", "StoreMeta", "read_meta", "write_meta"]

FORMAT_VERSION = 1
META_FILE = "meta.json"

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class StoreMeta:
    """What a data directory holds. ``anchor_chainwork`` includes the anchor's own work."""

    network_id: str
    anchor_height: int
    anchor_hash: bytes
    anchor_chainwork: int
    format_version: int = FORMAT_VERSION

    def to_json(self) -> bytes:
        doc = {
            "format_version": self.format_version,
            "network": self.network_id,
            "anchor_height": self.anchor_height,
            "anchor_hash": hash_to_display(self.anchor_hash),
            "anchor_chainwork": f"{self.anchor_chainwork:064x}",
        }
        return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, raw: bytes, source: Path) -> StoreMeta:
        try:
            doc: Any = json.loads(raw)
            if not isinstance(doc, dict):
                raise TypeError("not an object")
            return cls(
                network_id=_typed(doc, "network", str),
                anchor_height=_typed(doc, "anchor_height", int),
                anchor_hash=hash_from_display(_typed(doc, "anchor_hash", str)),
                anchor_chainwork=int(_typed(doc, "anchor_chainwork", str), 16),
                format_version=_typed(doc, "format_version", int),
            )
        except (ValueError, TypeError, KeyError, EncodingError) as exc:
            raise StoreError(
                f"{source} is not a valid store meta file ({exc}); this directory was not "
                "written by this version of aureond: point --data-dir elsewhere") from exc

    def check_matches(self, wanted: StoreMeta, source: Path) -> None:
        """Refuse a directory that holds another network, anchor or format."""
        if self.format_version != wanted.format_version:
            raise StoreError(
                f"{source}: store format {self.format_version}, this aureond reads format "
                f"{wanted.format_version}; use a fresh --data-dir")
        if self.network_id != wanted.network_id:
            raise StoreError(
                f"{source}: data directory holds network {self.network_id!r}, not "
                f"{wanted.network_id!r}; use a separate --data-dir per network")
        if (self.anchor_height, self.anchor_hash) != (wanted.anchor_height, wanted.anchor_hash):
            raise StoreError(
                f"{source}: data directory is anchored at height {self.anchor_height} "
                f"({hash_to_display(self.anchor_hash)}), not at {wanted.anchor_height} "
                f"({hash_to_display(wanted.anchor_hash)}); use a fresh --data-dir to "
                "change the anchor")
        if self.anchor_chainwork != wanted.anchor_chainwork:
            raise StoreError(
                f"{source}: anchor chain work 0x{self.anchor_chainwork:x} differs from the "
                f"configured 0x{wanted.anchor_chainwork:x}; fix the checkpoint or use a "
                "fresh --data-dir")


def _typed(doc: dict[str, Any], key: str, kind: type[_T]) -> _T:
    value = doc[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"field {key!r} must be {kind.__name__}")
    return value


def read_meta(directory: Path) -> StoreMeta | None:
    path = directory / META_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc}") from exc
    return StoreMeta.from_json(raw, path)


def write_meta(directory: Path, meta: StoreMeta) -> None:
    path = directory / META_FILE
    try:
        atomic_write(path, meta.to_json())
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc}") from exc
