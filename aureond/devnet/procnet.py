"""Which TCP addresses a process listens on, from Linux ``/proc``.

Used to check that a test node (or the daemon) binds loopback only: the process's
socket inodes from ``/proc/<pid>/fd`` are matched against the listening entries of
``/proc/net/tcp`` and ``/proc/net/tcp6``.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

__all__ = ["listening_addresses"]

_TCP_LISTEN = "0A"


def listening_addresses(pid: int, proc: Path = Path("/proc")) -> list[tuple[str, int]]:
    """``(host, port)`` of every TCP socket ``pid`` listens on, sorted."""
    inodes = _socket_inodes(proc / str(pid) / "fd")
    found: list[tuple[str, int]] = []
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        path = proc / str(pid) / "net" / table
        try:
            lines = path.read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _TCP_LISTEN or fields[9] not in inodes:
                continue
            host_hex, port_hex = fields[1].split(":")
            found.append((_decode_host(host_hex, family), int(port_hex, 16)))
    return sorted(found)


def _socket_inodes(fd_dir: Path) -> set[str]:
    inodes: set[str] = set()
    for entry in fd_dir.iterdir():
        try:
            target = os.readlink(entry)
        except OSError:  # the descriptor was closed while we looked
            continue
        if target.startswith("socket:[") and target.endswith("]"):
            inodes.add(target[len("socket:["):-1])
    return inodes


def _decode_host(text: str, family: socket.AddressFamily) -> str:
    """``/proc/net/tcp*`` prints addresses as 32-bit words in host byte order."""
    raw = bytes.fromhex(text)
    if sys.byteorder == "big":
        return socket.inet_ntop(family, raw)
    ordered = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(family, ordered)
