"""Peer records and bans: persistence across reopen, expiry on a FakeClock, bounds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aureond.clock import FakeClock
from aureond.store import PeerAddress, PeerBook

A = PeerAddress("203.0.113.5", 8333)
B = PeerAddress("2001:DB8::1", 8333)
C = PeerAddress("seed.example.org", 18333)


def test_records_persist_across_reopen(tmp_path: Path) -> None:
    clock = FakeClock()
    book = PeerBook.open(tmp_path / "peers.json", clock=clock)
    book.seen(A)
    clock.advance(10)
    book.succeeded(A)
    book.failed(B)
    book.failed(B)
    book.add(C)
    book.save()
    again = PeerBook.open(tmp_path / "peers.json", clock=clock)
    a = again.get(A)
    assert a is not None
    assert (a.last_seen, a.last_success, a.failures, a.score) == (
        clock.wall(), clock.wall(), 0, 1.0)
    b = again.get(B)
    assert b is not None
    assert (b.failures, b.score, b.last_success) == (2, -2.0, None)
    assert [r.address for r in again.peers()] == [A, C, B]
    assert again.load_problem is None


@pytest.mark.parametrize(("text", "host", "shown"), [
    ("2001:DB8::1", "2001:db8::1", "[2001:db8::1]:8333"),
    ("[2001:db8::1]", "2001:db8::1", "[2001:db8::1]:8333"),
    ("::ffff:1.2.3.4", "::ffff:102:304", "[::ffff:102:304]:8333"),
    ("10.0.0.1", "10.0.0.1", "10.0.0.1:8333"),
    ("Seed.Example.ORG", "seed.example.org", "seed.example.org:8333"),
])
def test_addresses_are_normalised(text: str, host: str, shown: str) -> None:
    address = PeerAddress(text, 8333)
    assert address.host == host
    assert str(address) == shown


@pytest.mark.parametrize(("host", "port"), [("", 8333), ("a", 0), ("a", 65536),
                                            ("x" * 256, 1)])
def test_bad_addresses_are_refused(host: str, port: int) -> None:
    with pytest.raises(ValueError, match="bad peer"):
        PeerAddress(host, port)


def test_ban_persists_and_expires_on_the_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "peers.json"
    book = PeerBook.open(path, clock=clock)
    ban = book.ban(A, "invalid-header-pow", 3600)
    assert ban.until == clock.wall() + 3600
    # saved at once: a reopen without save() still has it
    reopened = PeerBook.open(path, clock=clock)
    assert reopened.is_banned(A)
    info = reopened.ban_info(A)
    assert info is not None
    assert info.reason == "invalid-header-pow"
    assert not reopened.is_banned(B)
    assert reopened.is_banned(A, now=clock.wall() + 3599.9)
    clock.advance(3600)
    assert not reopened.is_banned(A)
    assert reopened.bans() == []
    reopened.save()
    assert json.loads(path.read_text())["bans"] == []


def test_expired_bans_are_dropped_on_load(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "peers.json"
    book = PeerBook.open(path, clock=clock)
    book.ban(A, "short", 10)
    book.ban(B, "long", 1000)
    clock.advance(11)
    again = PeerBook.open(path, clock=clock)
    assert [b.address for b in again.bans()] == [B]


def test_longer_ban_wins_and_unban(tmp_path: Path) -> None:
    clock = FakeClock()
    book = PeerBook.open(tmp_path / "peers.json", clock=clock)
    book.ban(A, "first", 1000)
    kept = book.ban(A, "second", 10)
    assert kept.reason == "first"
    assert book.ban(A, "third", 5000).reason == "third"
    book.unban(A)
    assert not PeerBook.open(tmp_path / "peers.json", clock=clock).is_banned(A)
    with pytest.raises(ValueError, match="positive"):
        book.ban(A, "zero", 0)


def test_peer_records_are_bounded_evicting_the_worst(tmp_path: Path) -> None:
    clock = FakeClock()
    book = PeerBook.open(tmp_path / "peers.json", clock=clock, max_peers=3)
    good, bad, old = (PeerAddress(f"198.51.100.{i}", 8333) for i in (1, 2, 3))
    book.succeeded(good)
    book.failed(bad)
    book.seen(old)
    newcomer = PeerAddress("198.51.100.9", 8333)
    book.add(newcomer)
    assert book.get(bad) is None
    assert {r.address for r in book.peers()} == {good, old, newcomer}


def test_bans_are_bounded_dropping_the_soonest_to_expire(tmp_path: Path) -> None:
    clock = FakeClock()
    book = PeerBook.open(tmp_path / "peers.json", clock=clock, max_bans=2)
    book.ban(A, "a", 100)
    book.ban(B, "b", 10)
    book.ban(C, "c", 50)
    assert {b.address for b in book.bans()} == {A, C}


@pytest.mark.parametrize("content", [b"{not json", b"[]", b'{"format": 2}',
                                     b'{"format": 1, "peers": [{"host": 5}], "bans": []}'])
def test_unreadable_file_is_moved_aside(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "peers.json"
    path.write_bytes(content)
    book = PeerBook.open(path, clock=FakeClock())
    assert book.load_problem is not None
    assert "moved to" in book.load_problem
    assert (tmp_path / "peers.json.corrupt").read_bytes() == content
    assert book.peers() == []
    book.seen(A)
    book.save()
    assert PeerBook.open(path, clock=FakeClock()).get(A) is not None
