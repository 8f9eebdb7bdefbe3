"""A development network: a real full node in regtest (Bitcoin SV or Litecoin Core,
see ``kinds``), for tests and demos.

Tooling, not part of the daemon: nothing in ``aureond`` imports it. ``python -m
aureond.devnet`` brings up one node for the daemon to follow.
"""

from __future__ import annotations

from aureond.devnet.address import regtest_address
from aureond.devnet.binary import (
    NodeBinaries,
    ensure_binaries,
    ensure_node_binaries,
    find_litecoin_binaries,
    find_node_binaries,
)
from aureond.devnet.errors import (
    DevnetError,
    NodeBinaryError,
    NodeStartError,
    NodeTimeoutError,
    RpcError,
    RpcTransportError,
)
from aureond.devnet.kinds import KINDS, LITECOIN, SV, NodeKind, node_kind
from aureond.devnet.node import RegtestNode, wait_synced, wait_until
from aureond.devnet.procnet import listening_addresses
from aureond.devnet.rpc import RpcClient

__all__ = [
    "KINDS",
    "LITECOIN",
    "SV",
    "DevnetError",
    "NodeBinaries",
    "NodeBinaryError",
    "NodeKind",
    "NodeStartError",
    "NodeTimeoutError",
    "RegtestNode",
    "RpcClient",
    "RpcError",
    "RpcTransportError",
    "ensure_binaries",
    "ensure_node_binaries",
    "find_litecoin_binaries",
    "find_node_binaries",
    "listening_addresses",
    "node_kind",
    "regtest_address",
    "wait_synced",
    "wait_until",
]
