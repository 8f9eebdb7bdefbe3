"""sd_notify over a real Unix datagram socket, and the watchdog interval rules."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator

import pytest

from aureond.service.sdnotify import Notifier, watchdog_interval


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, str]]:
    """A bound datagram socket at a short path (sun_path holds about 108 bytes)."""
    directory = tempfile.mkdtemp(prefix="aureond-sd-")
    path = os.path.join(directory, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2.0)
    try:
        yield sock, path
    finally:
        sock.close()
        shutil.rmtree(directory, ignore_errors=True)


def test_each_message_is_one_datagram_in_order(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    notifier = Notifier({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    assert notifier.ready("height 0, 0 peers, no-peers")
    assert notifier.status("height 5, 1 peer, synced")
    assert notifier.watchdog()
    assert notifier.stopping()
    notifier.close()
    got = [sock.recv(4096).decode() for _ in range(4)]
    assert got == ["READY=1\nSTATUS=height 0, 0 peers, no-peers",
                   "STATUS=height 5, 1 peer, synced", "WATCHDOG=1", "STOPPING=1"]


def test_ready_without_status_is_just_ready(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    notifier = Notifier({"NOTIFY_SOCKET": path})
    notifier.ready()
    assert sock.recv(4096) == b"READY=1"
    notifier.close()


def test_abstract_socket_names_start_with_at() -> None:
    name = f"aureond-test-{os.getpid()}-{id(object())}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(2.0)
        notifier = Notifier({"NOTIFY_SOCKET": f"@{name}"})
        assert notifier.watchdog()
        assert sock.recv(4096) == b"WATCHDOG=1"
        notifier.close()


@pytest.mark.parametrize("value", ["", "relative/path", "notify"])
def test_without_a_usable_socket_every_call_is_a_no_op(value: str) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": value} if value else {})
    assert not notifier.enabled
    assert not notifier.ready("x")
    assert not notifier.watchdog()
    notifier.close()


def test_a_vanished_manager_is_reported_not_raised(tmp_path: object) -> None:
    directory = tempfile.mkdtemp(prefix="aureond-sd-")
    path = os.path.join(directory, "gone")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
        os.unlink(path)  # nobody listens any more
        notifier = Notifier({"NOTIFY_SOCKET": path})
        assert notifier.enabled
        assert notifier.stopping() is False
        notifier.close()
        notifier.close()  # closing twice is fine
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_reads_the_process_environment_by_default(listener: tuple[socket.socket, str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    sock, path = listener
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    notifier = Notifier()
    notifier.status("from the environment")
    assert sock.recv(4096) == b"STATUS=from the environment"
    notifier.close()


@pytest.mark.parametrize(("env", "expected"), [
    ({}, None),
    ({"WATCHDOG_USEC": "2000000"}, 1.0),
    ({"WATCHDOG_USEC": "30000000"}, 15.0),
    ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}, 1.0),
    ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
    ({"WATCHDOG_USEC": "0"}, None),
    ({"WATCHDOG_USEC": "-5"}, None),
    ({"WATCHDOG_USEC": "soon"}, None),
    ({"WATCHDOG_PID": str(os.getpid())}, None),
])
def test_watchdog_interval_is_half_the_timeout_for_this_process(
        env: dict[str, str], expected: float | None) -> None:
    assert watchdog_interval(env) == expected
