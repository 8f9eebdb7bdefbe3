"""``[p2p] handshake_timeout`` reaches the running node: a peer that accepts the TCP
connection and never sends ``version`` is dropped after that many seconds, and the
drop is counted as ``aureond_peer_disconnects_total{reason="handshake-timeout"}``.

The node is the real ``aureond run`` process; the peer is a plain loopback socket
server that reads what it is sent and answers nothing.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from types import TracebackType

from prometheus_client.parser import text_string_to_metric_families

from aureond.p2p.handshake import HANDSHAKE_TIMEOUT
from tests.integration.daemon import DaemonProcess, wait_for

TIMEOUT = 2.0
"""The configured handshake timeout: far below the core's own default (60 s)."""
SLACK = 6.0
"""Ticks are 1 s apart, and the machine may be busy: the drop may come this much later."""


class SilentPeer:
    """Accepts connections on 127.0.0.1 and never writes a byte; notes when each
    connection was accepted and when the other side closed it."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port = int(self._server.getsockname()[1])
        self.sessions: list[tuple[float, float | None]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                index = len(self.sessions)
                self.sessions.append((time.monotonic(), None))
            worker = threading.Thread(target=self._drain, args=(conn, index), daemon=True)
            self._threads.append(worker)
            worker.start()

    def _drain(self, conn: socket.socket, index: int) -> None:
        conn.settimeout(0.2)
        with conn:
            while not self._stop.is_set():
                try:
                    if not conn.recv(65536):
                        break
                except TimeoutError:
                    continue
                except OSError:
                    break
        with self._lock:
            accepted, _ = self.sessions[index]
            self.sessions[index] = (accepted, time.monotonic())

    def first_session(self) -> tuple[float, float] | None:
        """(accepted, closed) of the first connection once the node has closed it."""
        with self._lock:
            if not self.sessions:
                return None
            accepted, closed = self.sessions[0]
        return None if closed is None else (accepted, closed)

    def close(self) -> None:
        self._stop.set()
        self._server.close()
        for thread in self._threads:
            thread.join(2.0)

    def __enter__(self) -> SilentPeer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def disconnects(daemon: DaemonProcess, reason: str) -> float:
    got = daemon.get("/metrics")
    assert got is not None
    assert got[0] == 200, got
    assert isinstance(got[1], str)
    for family in text_string_to_metric_families(got[1]):
        for sample in family.samples:
            if (sample.name == "aureond_peer_disconnects_total"
                    and sample.labels.get("reason") == reason):
                return float(sample.value)
    return 0.0


def test_a_silent_peer_is_dropped_after_the_configured_handshake_timeout(
        tmp_path: Path) -> None:
    assert TIMEOUT + SLACK < HANDSHAKE_TIMEOUT  # so the old hard-coded wait cannot pass
    with SilentPeer() as peer, DaemonProcess(
            tmp_path / "node", connect=[f"127.0.0.1:{peer.port}"],
            env={"AUREOND_P2P__HANDSHAKE_TIMEOUT": str(TIMEOUT)}) as daemon:
        daemon.start()
        accepted, closed = wait_for(peer.first_session, TIMEOUT + SLACK + 10,
                                    "the node to hang up on the silent peer")
        assert TIMEOUT - 0.5 <= closed - accepted <= TIMEOUT + SLACK
        assert wait_for(lambda: disconnects(daemon, "handshake-timeout"), 10,
                        "the drop to be counted") >= 1
        assert disconnects(daemon, "other") == 0
        drops = [line for line in daemon.log_lines() if line.get("event") == "p2p.disconnect"]
        assert drops
        assert {d.get("reason") for d in drops} == {"handshake-timeout"}
        assert daemon.terminate() == 0
