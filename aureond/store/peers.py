"""Peer records and bans that survive restarts, in one JSON file written atomically.

Times are Unix wall time from the injected clock. Bans carry a reason and an expiry;
expired bans are dropped when checked, listed or saved. Both tables are bounded:
past ``max_peers`` the worst other record goes (lowest score, then longest without a
success, then longest unseen); past ``max_bans`` the ban that expires soonest goes.

A ban or an unban is saved at once (it must survive a crash): by the book itself, or,
when ``on_change`` is set, by its owner, who is told of the change and saves it where
the write does not block anything (the daemon: a worker thread, see
:mod:`aureond.service.peersaver`). Other changes are saved by ``save()``, which the
node calls periodically and on shutdown.

Saving is two steps: :meth:`PeerBook.snapshot` takes the records as they are (on the
thread that owns the book; records are frozen, so this only copies references),
:meth:`PeerBook.write` encodes them and puts the file on disk atomically (temporary
file, fsync, rename, directory fsync) and may run on any thread; writes are serialised,
and a snapshot older than the one last written is skipped, so the file never goes back
in time. A file that cannot be parsed is moved aside (``peers.json.corrupt``) and the
book starts empty: losing peer addresses costs a DNS-seed lookup, never a manual step.
``load_problem`` says so.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aureond.clock import Clock
from aureond.errors import StoreError
from aureond.store.atomic import atomic_write

__all__ = ["Ban", "BookSnapshot", "PeerAddress", "PeerBook", "PeerRecord"]

_FORMAT = 1


@dataclass(frozen=True, slots=True, order=True)
class PeerAddress:
    """A peer's host (IP literal, normalised, or a name) and TCP port."""

    host: str
    port: int

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host or len(self.host) > 255:
            raise ValueError(f"bad peer host {self.host!r}")
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ValueError(f"bad peer port {self.port!r}")
        try:
            normal = str(ipaddress.ip_address(self.host.strip("[]")))
        except ValueError:
            normal = self.host.lower()
        object.__setattr__(self, "host", normal)

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class PeerRecord:
    address: PeerAddress
    last_seen: float | None = None
    last_success: float | None = None
    failures: int = 0
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class Ban:
    address: PeerAddress
    reason: str
    since: float
    until: float


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """The book's records at one moment; ``seq`` orders snapshots of one book."""

    seq: int
    peers: tuple[PeerRecord, ...]
    bans: tuple[Ban, ...]

    def encode(self) -> bytes:
        """The file's content (sorted by address, so equal books give equal files)."""
        doc = {
            "format": _FORMAT,
            "peers": [_peer_to(r) for r in sorted(self.peers, key=lambda r: r.address)],
            "bans": [_ban_to(b) for b in sorted(self.bans, key=lambda b: b.address)],
        }
        # One line: the C encoder, four times faster than an indented dump (jq reads it).
        return (json.dumps(doc) + "\n").encode()


def _eviction_key(record: PeerRecord) -> tuple[float, float, float]:
    never = -math.inf
    return (record.score,
            record.last_success if record.last_success is not None else never,
            record.last_seen if record.last_seen is not None else never)


class PeerBook:
    """Peer records and bans. Create with :meth:`open`. Synchronous file I/O."""

    def __init__(self, path: Path, clock: Clock, max_peers: int, max_bans: int) -> None:
        if max_peers < 1 or max_bans < 1:
            raise ValueError("max_peers and max_bans must be >= 1")
        self.path = path
        self._clock = clock
        self.max_peers = max_peers
        self.max_bans = max_bans
        self._peers: dict[PeerAddress, PeerRecord] = {}
        self._bans: dict[PeerAddress, Ban] = {}
        self.load_problem: str | None = None
        self.on_change: Callable[[], None] | None = None
        """Called after a ban or unban instead of saving at once (the owner saves)."""
        self._seq = 0
        self._written = 0
        self._write_lock = threading.Lock()

    @classmethod
    def open(cls, path: Path | str, *, clock: Clock, max_peers: int = 2000,
             max_bans: int = 10_000) -> PeerBook:
        book = cls(Path(path), clock, max_peers, max_bans)
        book._load()
        return book

    # -- persistence -------------------------------------------------------------------

    def _load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreError(f"cannot read {self.path}: {exc}") from exc
        try:
            doc: Any = json.loads(raw)
            if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
                raise ValueError("unknown format")
            peers = [_peer_from(item) for item in doc["peers"]]
            bans = [_ban_from(item) for item in doc["bans"]]
        except (ValueError, TypeError, KeyError) as exc:
            aside = self.path.with_name(self.path.name + ".corrupt")
            try:
                os.replace(self.path, aside)
            except OSError as move_exc:
                raise StoreError(f"{self.path} is unreadable ({exc}) and could not be moved "
                                 f"aside: {move_exc}") from exc
            self.load_problem = f"{self.path} was unreadable ({exc}); moved to {aside}"
            return
        for record in peers[:self.max_peers]:
            self._peers[record.address] = record
        now = self._clock.wall()
        for ban in bans:
            if ban.until > now:
                self._bans[ban.address] = ban
        self._bound_bans()

    def save(self) -> None:
        """Write the book atomically now; expired bans are dropped first."""
        self.write(self.snapshot())

    def snapshot(self) -> BookSnapshot:
        """The book as it is now, for :meth:`write` (expired bans dropped). Cheap: the
        records are frozen, so only references are copied; ``write`` encodes."""
        self._drop_expired(self._clock.wall())
        self._seq += 1
        return BookSnapshot(self._seq, tuple(self._peers.values()), tuple(self._bans.values()))

    def write(self, snapshot: BookSnapshot) -> bool:
        """Encode ``snapshot`` and put it on disk atomically and durably; any thread may
        call this.

        False (nothing written) when a newer snapshot is already on disk. Raises
        ``StoreError`` when the file cannot be written."""
        with self._write_lock:
            if snapshot.seq <= self._written:
                return False
            data = snapshot.encode()
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(self.path, data)
            except OSError as exc:
                raise StoreError(f"cannot write {self.path}: {exc}") from exc
            self._written = snapshot.seq
            return True

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()
        else:
            self.save()

    # -- peers -------------------------------------------------------------------------

    def get(self, address: PeerAddress) -> PeerRecord | None:
        return self._peers.get(address)

    def peers(self) -> list[PeerRecord]:
        """Every record, best first."""
        return sorted(self._peers.values(), key=_eviction_key, reverse=True)

    def _update(self, address: PeerAddress, **changes: Any) -> PeerRecord:
        record = replace(self._peers.get(address) or PeerRecord(address), **changes)
        is_new = address not in self._peers
        self._peers[address] = record
        if is_new and len(self._peers) > self.max_peers:
            others = (r for r in self._peers.values() if r.address != address)
            worst = min(others, key=_eviction_key)
            del self._peers[worst.address]
        return record

    def add(self, address: PeerAddress) -> PeerRecord:
        """Learn an address (from a seed or an ``addr`` message) without contact."""
        return self._peers.get(address) or self._update(address)

    def seen(self, address: PeerAddress) -> PeerRecord:
        return self._update(address, last_seen=self._clock.wall())

    def succeeded(self, address: PeerAddress, score_delta: float = 1.0) -> PeerRecord:
        now = self._clock.wall()
        old = self._peers.get(address) or PeerRecord(address)
        return self._update(address, last_seen=now, last_success=now, failures=0,
                            score=old.score + score_delta)

    def failed(self, address: PeerAddress, score_delta: float = -1.0) -> PeerRecord:
        old = self._peers.get(address) or PeerRecord(address)
        return self._update(address, failures=old.failures + 1, score=old.score + score_delta)

    def forget(self, address: PeerAddress) -> None:
        self._peers.pop(address, None)

    # -- bans --------------------------------------------------------------------------

    def ban(self, address: PeerAddress, reason: str, duration: float) -> Ban:
        """Ban ``address`` for ``duration`` seconds from now, and save at once (or tell
        ``on_change``).

        A longer existing ban is kept (with its reason)."""
        if not duration > 0:
            raise ValueError("a ban lasts a positive number of seconds")
        now = self._clock.wall()
        ban = Ban(address, reason, now, now + duration)
        current = self._bans.get(address)
        if current is None or current.until < ban.until:
            self._bans[address] = ban
        self._bound_bans()
        self._changed()
        return self._bans.get(address, ban)

    def unban(self, address: PeerAddress) -> Ban | None:
        """Lift the ban of ``address`` and save at once (or tell ``on_change``);
        returns the ban lifted, None when there was none (nothing is saved then)."""
        ban = self._bans.pop(address, None)
        if ban is not None:
            self._changed()
        return ban

    def ban_info(self, address: PeerAddress, now: float | None = None) -> Ban | None:
        ban = self._bans.get(address)
        when = self._clock.wall() if now is None else now
        if ban is not None and ban.until <= when:
            del self._bans[address]
            return None
        return ban

    def is_banned(self, address: PeerAddress, now: float | None = None) -> bool:
        return self.ban_info(address, now) is not None

    def bans(self) -> list[Ban]:
        self._drop_expired(self._clock.wall())
        return sorted(self._bans.values(), key=lambda b: b.until)

    def _drop_expired(self, now: float) -> None:
        for address in [a for a, b in self._bans.items() if b.until <= now]:
            del self._bans[address]

    def _bound_bans(self) -> None:
        while len(self._bans) > self.max_bans:
            soonest = min(self._bans.values(), key=lambda b: b.until)
            del self._bans[soonest.address]


def _addr_from(item: dict[str, Any]) -> PeerAddress:
    return PeerAddress(str(item["host"]), int(item["port"]))


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _peer_from(item: Any) -> PeerRecord:
    if not isinstance(item, dict):
        raise TypeError("a peer record is an object")
    return PeerRecord(_addr_from(item), _opt_float(item.get("last_seen")),
                      _opt_float(item.get("last_success")), int(item.get("failures", 0)),
                      float(item.get("score", 0.0)))


def _ban_from(item: Any) -> Ban:
    if not isinstance(item, dict):
        raise TypeError("a ban is an object")
    return Ban(_addr_from(item), str(item["reason"]), float(item["since"]),
               float(item["until"]))


def _peer_to(record: PeerRecord) -> dict[str, Any]:
    return {"host": record.address.host, "port": record.address.port,
            "last_seen": record.last_seen, "last_success": record.last_success,
            "failures": record.failures, "score": record.score}


def _ban_to(ban: Ban) -> dict[str, Any]:
    return {"host": ban.address.host, "port": ban.address.port, "reason": ban.reason,
            "since": ban.since, "until": ban.until}
