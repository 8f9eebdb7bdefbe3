"""Checks that a test's real node and daemon parted on good terms.

After a run the node must still list aureond as a peer and have banned nobody, and the
daemon must have logged no protocol error: the client spoke the protocol the way the
node expects (handshake extras such as ``wtxidrelay``, ``sendaddrv2``, ``feefilter``,
``sendcmpct`` included) to the end.
"""

from __future__ import annotations

from aureond.devnet import RegtestNode
from tests.integration.daemon import DaemonProcess

__all__ = ["assert_good_terms", "assert_no_protocol_error", "assert_peer_kept"]


def assert_peer_kept(node: RegtestNode) -> None:
    agents = [str(p.get("subver", "")) for p in node.rpc.getpeerinfo()]
    assert any(a.startswith("/aureond:") for a in agents), agents
    assert node.rpc.call("listbanned") == []


def assert_no_protocol_error(daemon: DaemonProcess) -> None:
    # A protocol error, or a peer we dropped (misbehaviour, stall, bad headers).
    errors = [line for line in daemon.log_lines()
              if line.get("event") in ("p2p.protocol_error", "p2p.disconnect")]
    assert errors == []


def assert_good_terms(node: RegtestNode, daemon: DaemonProcess) -> None:
    assert_peer_kept(node)
    assert_no_protocol_error(daemon)
