"""Protocol constants of the Bitcoin P2P wire format.

Limits are those the reference implementations enforce; a peer that exceeds one has
broken the protocol and the decoder says so with a ``RemoteProtocolError``.
"""

from __future__ import annotations

from enum import IntFlag

__all__ = [
    "BIP37_MIN_VERSION",
    "COMMAND_SIZE",
    "FRAME_HEADER_SIZE",
    "MAX_ADDR_V2_ADDRESS_LENGTH",
    "MAX_ADDR_ENTRIES",
    "MAX_BLOOM_FILTER_SIZE",
    "MAX_BLOOM_HASH_FUNCS",
    "MAX_FILTERADD_DATA_SIZE",
    "MAX_HEADERS_RESULTS",
    "MAX_INV_SIZE",
    "MAX_LOCATOR_SIZE",
    "MAX_MONEY",
    "MAX_REJECT_MESSAGE_LENGTH",
    "MAX_USER_AGENT_LENGTH",
    "PROTOCOL_VERSION",
    "ServiceFlags",
]

#: The protocol version we speak by default (BIP339 wtxidrelay era, as Bitcoin SV 1.0.x).
PROTOCOL_VERSION = 70016
#: From this version on, ``version`` carries the BIP37 relay flag.
BIP37_MIN_VERSION = 70001

#: magic(4) + command(12) + length(4) + checksum(4)
FRAME_HEADER_SIZE = 24
COMMAND_SIZE = 12

#: At most this many headers in one ``headers`` message.
MAX_HEADERS_RESULTS = 2000
#: At most this many entries in ``inv``, ``getdata``, ``notfound``.
MAX_INV_SIZE = 50_000
#: At most this many entries in ``addr`` and ``addrv2``.
MAX_ADDR_ENTRIES = 1000
#: At most this many hashes in a ``getheaders`` block locator.
MAX_LOCATOR_SIZE = 101
#: Longest user agent a ``version`` may carry, in bytes.
MAX_USER_AGENT_LENGTH = 256
#: Longest ``reject`` reason string, in bytes.
MAX_REJECT_MESSAGE_LENGTH = 111
#: BIP155: longest address an ``addrv2`` entry may carry, in bytes.
MAX_ADDR_V2_ADDRESS_LENGTH = 512
#: BIP37 bloom filter limits.
MAX_BLOOM_FILTER_SIZE = 36_000
MAX_BLOOM_HASH_FUNCS = 50
MAX_FILTERADD_DATA_SIZE = 520
#: 21 million coins in satoshis; a ``feefilter`` rate above it is nonsense.
MAX_MONEY = 21_000_000 * 100_000_000


class ServiceFlags(IntFlag):
    """Service bits a node advertises in ``version`` and address messages."""

    NONE = 0
    NODE_NETWORK = 1 << 0
    NODE_GETUTXO = 1 << 1
    NODE_BLOOM = 1 << 2
    NODE_WITNESS = 1 << 3
    NODE_XTHIN = 1 << 4
    NODE_BITCOIN_CASH = 1 << 5
    NODE_COMPACT_FILTERS = 1 << 6
    NODE_NETWORK_LIMITED = 1 << 10
    NODE_P2P_V2 = 1 << 11
