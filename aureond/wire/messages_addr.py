"""Peer address gossip: ``addr`` and ``addrv2`` (BIP155)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from aureond.errors import LocalProtocolError
from aureond.wire._checks import decoding
from aureond.wire.constants import MAX_ADDR_ENTRIES
from aureond.wire.netaddr import AddrEntry, AddrV2Entry
from aureond.wire.primitives import Reader, write_compact_size

__all__ = ["Addr", "AddrV2"]


def _check_entries(command: str, entries: tuple[object, ...], kind: type) -> None:
    if len(entries) > MAX_ADDR_ENTRIES:
        raise LocalProtocolError(
            f"{command}: {len(entries)} entries exceed the limit of {MAX_ADDR_ENTRIES}")
    for entry in entries:
        if not isinstance(entry, kind):
            raise LocalProtocolError(f"{command}: entry {entry!r} is not a {kind.__name__}")


@dataclass(frozen=True, slots=True)
class Addr:
    """``addr``: up to 1,000 timestamped IPv6(-mapped) addresses."""

    COMMAND: ClassVar[str] = "addr"

    entries: tuple[AddrEntry, ...]

    def __post_init__(self) -> None:
        entries = tuple(self.entries)
        _check_entries(self.COMMAND, entries, AddrEntry)
        object.__setattr__(self, "entries", entries)

    def encode(self) -> bytes:
        return write_compact_size(len(self.entries)) + b"".join(
            e.encode() for e in self.entries)

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        with decoding(cls.COMMAND):
            r = Reader(payload)
            count = r.read_count(MAX_ADDR_ENTRIES, AddrEntry.SIZE, "addresses")
            entries = tuple(AddrEntry.read(r) for _ in range(count))
            r.expect_end()
            return cls(entries)


@dataclass(frozen=True, slots=True)
class AddrV2:
    """``addrv2`` (BIP155): up to 1,000 addresses of any network type."""

    COMMAND: ClassVar[str] = "addrv2"

    entries: tuple[AddrV2Entry, ...]

    def __post_init__(self) -> None:
        entries = tuple(self.entries)
        _check_entries(self.COMMAND, entries, AddrV2Entry)
        object.__setattr__(self, "entries", entries)

    def encode(self) -> bytes:
        return write_compact_size(len(self.entries)) + b"".join(
            e.encode() for e in self.entries)

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        with decoding(cls.COMMAND):
            r = Reader(payload)
            count = r.read_count(MAX_ADDR_ENTRIES, AddrV2Entry.MIN_SIZE, "addresses")
            entries = tuple(AddrV2Entry.read(r) for _ in range(count))
            r.expect_end()
            return cls(entries)
