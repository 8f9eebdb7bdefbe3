"""A full node in regtest (either kind, see ``kinds``): start, wait until ready,
restart, stop.

Every node binds loopback only, on free ports, with its own random RPC password (sent
as ``-rpcauth``, a salted hash, so it never shows in the process list). The process
runs in its own session, so a Ctrl-C aimed at the test run does not kill it half-way;
we stop it ourselves: RPC ``stop``, then SIGTERM, then SIGKILL, always by its own PID.
If the owner forgets to stop it, a finalizer (also run at interpreter exit) kills it.

Blocking by design: start-up takes 0.1-1 s, stop 1-3 s. Call it from a thread
(``asyncio.to_thread``) if an event loop must keep running meanwhile.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self, TypeVar

from aureond.devnet import mweb
from aureond.devnet.address import regtest_address
from aureond.devnet.binary import NodeBinaries
from aureond.devnet.errors import (
    DevnetError,
    NodeStartError,
    NodeTimeoutError,
    RpcError,
    RpcTransportError,
)
from aureond.devnet.kinds import NodeKind
from aureond.devnet.rpc import RPC_IN_WARMUP, RpcClient

__all__ = ["LOOPBACK", "RegtestNode", "free_ports", "wait_synced", "wait_until"]

LOOPBACK = "127.0.0.1"
_RPC_USER = "aureond"
_START_ATTEMPTS = 3        # fresh ports after a bind collision
_POLL_INTERVAL = 0.05
_RPC_PROBE_TIMEOUT = 2.0
_SIGNAL_GRACE = 10.0       # after SIGTERM, then after SIGKILL
_LOG_TAIL_BYTES = 4096
_BIND_FAILURES = ("Unable to bind", "Binding RPC on address", "Unable to start HTTP server")
_WALLET = "w"               # the one wallet of a node whose wallets are made over RPC
_WALLET_NOT_FOUND = -18

# Every kind: loopback only, no discovery, BIP37 on, loopback whitelisted (so a fresh
# node answers getheaders before it leaves initial download), and short bans for
# misbehaving tests. Each kind adds its own (``NodeKind.options``).
_BASE_OPTIONS = (
    "-regtest",
    f"-bind={LOOPBACK}",
    "-listen=1",
    "-discover=0",
    "-dnsseed=0",
    "-listenonion=0",
    "-server=1",
    f"-rpcbind={LOOPBACK}",
    f"-rpcallowip={LOOPBACK}",
    "-peerbloomfilters=1",
    f"-whitelist={LOOPBACK}",
    "-bantime=2",
    "-printtoconsole=0",
)

T = TypeVar("T")


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback TCP ports free right now (the OS picks them).

    The sockets are held open together so the same port is not handed out twice;
    another process may still take one before the node binds it, which
    :meth:`RegtestNode.start` detects and retries.
    """
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((LOOPBACK, 0))
            ports.append(sock.getsockname()[1])
        return ports


def wait_until(condition: Callable[[], T | None], timeout: float, what: str,
               interval: float = _POLL_INTERVAL) -> T:
    """Poll ``condition`` until it returns something other than None/False; bounded."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value is not None and value is not False:
            return value
        if time.monotonic() >= deadline:
            raise NodeTimeoutError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


def wait_synced(nodes: Sequence[RegtestNode], timeout: float = 30.0) -> str:
    """Wait until every node has the same best block; return its hash.

    Nodes only converge if they are connected and one chain has the most work.
    """
    def same_tip() -> str | None:
        tips = {node.rpc.getbestblockhash() for node in nodes}
        return tips.pop() if len(tips) == 1 else None

    return wait_until(same_tip, timeout, f"{len(nodes)} nodes to agree on a tip")


class RegtestNode:
    """One full node in regtest, owned by this process; its kind is its binaries'.

    ``datadir=None`` makes a temporary directory that :meth:`close` deletes; a given
    directory is kept, so a chain survives between runs. Ports are picked on the first
    start and kept across :meth:`restart` while they stay free. A Litecoin node always
    has its wallet (created on the first start, loaded on later ones): it pays the
    MWEB peg-in that mining past height 432 needs.
    """

    def __init__(self, binaries: NodeBinaries, datadir: Path | str | None = None, *,
                 wallet: bool = False, txindex: bool = False,
                 p2p_port: int | None = None, rpc_port: int | None = None,
                 extra_args: Sequence[str] = (), start_timeout: float = 30.0,
                 stop_timeout: float = 20.0, rpc_timeout: float = 60.0) -> None:
        self.binaries = binaries
        self.wallet = wallet
        self.txindex = txindex
        self.extra_args = tuple(extra_args)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._remove_datadir: weakref.finalize[..., RegtestNode] | None = None
        if datadir is None:
            self.datadir = Path(tempfile.mkdtemp(prefix="aureond-regtest-"))
            # Runs on close(), or when the object is collected, or at exit; after the
            # process finalizer below, since finalizers run newest first at exit.
            self._remove_datadir = weakref.finalize(self, shutil.rmtree, self.datadir, True)
        else:
            self.datadir = Path(datadir).resolve()
            self.datadir.mkdir(parents=True, exist_ok=True)
        self._requested_ports = (p2p_port, rpc_port)
        self._p2p_port = p2p_port
        self._rpc_port = rpc_port
        self._onion_port: int | None = None
        self._password = secrets.token_hex(16)
        self.mining_address = regtest_address(str(self.datadir))
        self._rpc_timeout = rpc_timeout
        self._rpc: RpcClient | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._reaper: weakref.finalize[..., RegtestNode] | None = None
        self._log_marks = (0, 0)

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.running else "stopped"
        return f"RegtestNode({self.datadir}, {state})"

    # --- addresses ---------------------------------------------------------------------

    @property
    def p2p_addr(self) -> tuple[str, int]:
        """Where the node accepts P2P connections."""
        return LOOPBACK, self._require_port(self._p2p_port)

    @property
    def rpc_addr(self) -> tuple[str, int]:
        return LOOPBACK, self._require_port(self._rpc_port)

    @property
    def onion_addr(self) -> tuple[str, int] | None:
        """Where a node of a kind with ``onion_bind`` takes Tor connections (unused)."""
        return (LOOPBACK, self._onion_port) if self._onion_port is not None else None

    @property
    def rpc_credentials(self) -> tuple[str, str]:
        """The RPC user and password (random per node, stable across restarts)."""
        return _RPC_USER, self._password

    @property
    def rpc(self) -> RpcClient:
        if self._rpc is None:
            raise DevnetError("the node has not been started")
        return self._rpc

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def kind(self) -> NodeKind:
        return self.binaries.kind

    @property
    def network(self) -> str:
        """The aureond network that matches this node's regtest."""
        return self.binaries.kind.network

    @property
    def log_path(self) -> Path:
        """The node's own log (``bitcoind.log`` or ``debug.log``, by kind)."""
        return self.datadir / "regtest" / self.binaries.kind.log_name

    @property
    def stderr_path(self) -> Path:
        return self.datadir / "node-stderr.log"

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> Self:
        """Start the node and wait until its RPC answers (bounded by start_timeout)."""
        if self.running:
            raise DevnetError(f"the node is already running (pid {self.pid})")
        self._forget()  # a process that exited on its own
        attempt = 1
        while True:
            if self._p2p_port is None or self._rpc_port is None or (
                    self.kind.onion_bind and self._onion_port is None):
                p2p, rpc, onion = free_ports(3)
                self._p2p_port = self._p2p_port or p2p
                self._rpc_port = self._rpc_port or rpc
                self._onion_port = self._onion_port or onion
            try:
                self._wait_ready(self._launch())
                if self.kind.wallet_by_rpc:
                    self._open_wallet()
            except _PortTakenError:
                self._reap_now()
                if attempt >= _START_ATTEMPTS or None not in self._requested_ports:
                    raise NodeStartError(
                        f"port {self._p2p_port} or {self._rpc_port} on {LOOPBACK} is in use "
                        f"(tried {attempt} time(s)); choose other ports",
                        self._log_tail()) from None
                attempt += 1
                self._p2p_port, self._rpc_port = self._requested_ports
                self._onion_port = None
            except BaseException:
                self._reap_now()
                raise
            else:
                return self

    def stop(self) -> None:
        """Stop the node: RPC ``stop``, then SIGTERM, then SIGKILL; bounded."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(RpcError, RpcTransportError):
                self.rpc.call("stop", timeout=5.0)
            try:
                process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self._reap_now()
        self._forget()

    def restart(self, extra_args: Sequence[str] | None = None) -> Self:
        """Stop and start again on the same datadir (and ports, while they are free)."""
        self.stop()
        if extra_args is not None:
            self.extra_args = tuple(extra_args)
        return self.start()

    def close(self) -> None:
        """Stop the node and delete its datadir if this object created it."""
        self.stop()
        if self._remove_datadir is not None:
            self._remove_datadir()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- conveniences ------------------------------------------------------------------

    def generate(self, n: int, address: str | None = None) -> list[str]:
        """Mine ``n`` blocks to ``address`` (default: this node's own mining address),
        through MWEB activation on a Litecoin node (see ``mweb``)."""
        target = address or self.mining_address
        if self.kind.mweb_height is not None:
            return mweb.generate(self.rpc, self.kind.mweb_height, n, target)
        return self.rpc.generate(n, target)

    def sign_raw_transaction(self, raw_hex: str) -> dict[str, Any]:
        """Sign with the node's wallet (the RPC's name differs by kind)."""
        signed = self.rpc.call(self.kind.sign_method, raw_hex)
        if not isinstance(signed, dict) or not signed.get("complete"):
            raise DevnetError(f"{self.kind.sign_method} did not sign completely: {signed}")
        return signed

    def connect(self, other: RegtestNode, timeout: float = 30.0) -> str:
        """Connect to ``other`` (``addnode onetry``) and wait until both share a tip."""
        host, port = other.p2p_addr
        self.rpc.addnode(f"{host}:{port}", "onetry")
        wait_until(lambda: self.is_connected_to(other), timeout,
                   f"a connection to {host}:{port}")
        return wait_synced([self, other], timeout)

    def is_connected_to(self, other: RegtestNode) -> bool:
        """Whether this node has an outbound connection to ``other``'s P2P port."""
        target = "{}:{}".format(*other.p2p_addr)
        return any(peer.get("addr") == target for peer in self.rpc.getpeerinfo())

    def log_tail(self) -> str:
        return self._log_tail()

    # --- internals ---------------------------------------------------------------------

    def _require_port(self, port: int | None) -> int:
        if port is None:
            raise DevnetError("the node has no ports yet: start it first")
        return port

    def _command(self) -> list[str]:
        salt = secrets.token_hex(16)
        digest = hmac.new(salt.encode(), self._password.encode(), hashlib.sha256).hexdigest()
        command = [str(self.binaries.daemon), *_BASE_OPTIONS, *self.kind.options,
                   f"-datadir={self.datadir}", f"-port={self._p2p_port}",
                   f"-rpcport={self._rpc_port}", f"-rpcauth={_RPC_USER}:{salt}${digest}"]
        if self.kind.onion_bind:
            command.append(f"-bind={LOOPBACK}:{self._onion_port}=onion")
        if not self.wallet and not self.kind.wallet_by_rpc:
            command.append("-disablewallet")
        if self.txindex:
            command.append("-txindex=1")
        command.extend(self.extra_args)
        return command

    def _launch(self) -> subprocess.Popen[bytes]:
        self._log_marks = (_size(self.stderr_path), _size(self.log_path))
        with self.stderr_path.open("ab") as stderr:
            process = _spawn(self._command(), stderr)
        self._process = process
        self._reaper = weakref.finalize(self, _kill, process)
        host, port = self.rpc_addr
        user, password = self.rpc_credentials
        self._rpc = RpcClient(host, port, user, password, timeout=self._rpc_timeout,
                              default_address=self.mining_address)
        return process

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> None:
        rpc = self.rpc
        deadline = time.monotonic() + self.start_timeout
        while True:
            code = process.poll()
            if code is not None:
                tail = self._log_tail()
                if any(marker in tail for marker in _BIND_FAILURES):
                    raise _PortTakenError
                raise NodeStartError(f"the node exited with code {code} while starting", tail)
            try:
                rpc.call("getblockcount", timeout=_RPC_PROBE_TIMEOUT)
            except RpcError as exc:
                if exc.code != RPC_IN_WARMUP:
                    raise NodeStartError(f"the node answered {exc} while starting",
                                         self._log_tail()) from exc
            except RpcTransportError:
                pass  # not listening yet
            else:
                return
            if time.monotonic() >= deadline:
                raise NodeStartError(
                    f"the node's RPC did not answer within {self.start_timeout:.0f}s",
                    self._log_tail())
            time.sleep(_POLL_INTERVAL)

    def _open_wallet(self) -> None:
        """Load the node's wallet, creating it on the first start."""
        if _WALLET in self.rpc.call("listwallets"):
            return
        try:
            self.rpc.call("loadwallet", _WALLET)
        except RpcError as exc:
            if exc.code != _WALLET_NOT_FOUND:
                raise NodeStartError(f"the node's wallet did not load: {exc}",
                                     self._log_tail()) from exc
            self.rpc.call("createwallet", _WALLET)

    def _reap_now(self) -> None:
        if self._process is not None:
            _kill(self._process)
        self._forget()

    def _forget(self) -> None:
        if self._reaper is not None:
            self._reaper.detach()
        self._reaper = None
        self._process = None

    def _log_tail(self) -> str:
        """The end of what the node wrote since its last launch (stderr, then its log)."""
        paths = (self.stderr_path, self.log_path)
        parts = [_tail(path, mark) for path, mark in zip(paths, self._log_marks, strict=True)]
        return "\n".join(part for part in parts if part)


class _PortTakenError(Exception):
    """Internal: the node could not bind a port we picked; retry with others."""


def _spawn(command: list[str], stderr: IO[bytes]) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL,  # noqa: S603 - argv list, no shell
                                stdout=subprocess.DEVNULL, stderr=stderr,
                                start_new_session=True, close_fds=True)
    except OSError as exc:
        raise NodeStartError(f"cannot run {command[0]}: {exc}") from exc


def _kill(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL, to this one process (its PID cannot be reused while the
    Popen object has not reaped it)."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(_SIGNAL_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(_SIGNAL_GRACE)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _tail(path: Path, start: int = 0) -> str:
    """At most the last ``_LOG_TAIL_BYTES`` of ``path`` after offset ``start``."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            begin = max(start, size - _LOG_TAIL_BYTES)
            handle.seek(begin)
            data = handle.read()
    except OSError:
        return ""
    text = data.decode("utf-8", "replace")
    if begin > start:
        text = text.split("\n", 1)[-1]
    return text.strip()
