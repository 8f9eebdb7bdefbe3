"""A development network: the reference full node in regtest, for tests and demos.

Tooling, not part of the daemon: nothing in ``aureond`` imports it. ``python -m
aureond.devnet`` brings up one node for the daemon to follow.
"""

from __future__ import annotations

from aureond.devnet.address import regtest_address
from aureond.devnet.binary import NodeBinaries, ensure_node_binaries, find_node_binaries
from aureond.devnet.errors import (
    DevnetError,
    NodeBinaryError,
    NodeStartError,
    NodeTimeoutError,
    RpcError,
    RpcTransportError,
)
from aureond.devnet.node import RegtestNode, wait_synced, wait_until
from aureond.devnet.procnet import listening_addresses
from aureond.devnet.rpc import RpcClient

__all__ = [
    "DevnetError",
    "NodeBinaries",
    "NodeBinaryError",
    "NodeStartError",
    "NodeTimeoutError",
    "RegtestNode",
    "RpcClient",
    "RpcError",
    "RpcTransportError",
    "ensure_node_binaries",
    "find_node_binaries",
    "listening_addresses",
    "regtest_address",
    "wait_synced",
    "wait_until",
]
