"""BIP158 basic block filters and the BIP157 filter header chain.

The basic filter (type ``0x00``) of a block is the Golomb-coded set, with ``P = 19``
and ``M = 784931``, of:

* the scriptPubKey of every output of every transaction, except empty scripts and
  those starting with ``OP_RETURN`` (``0x6a``);
* the scriptPubKey of every output the block spends (not in the block itself: the
  builder is given them), except empty ones;

each distinct script once. The SipHash key is the first 16 bytes of the block hash in
wire order. A filter's hash is the double SHA-256 of its serialization; its header is
``dsha256(filter_hash || previous header)``, the genesis block's previous header
being 32 zero bytes, so one header commits to every filter below it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aureond.chain.gcs import GCSFilter, GCSParams, QuerySet, match_filters
from aureond.chain.hashing import dsha256
from aureond.chain.tx import Block

__all__ = [
    "BASIC_FILTER_TYPE",
    "BASIC_PARAMS",
    "GENESIS_PREV_HEADER",
    "BlockFilter",
    "basic_filter_elements",
    "filter_header",
    "filter_header_chain",
    "filter_key",
    "match_block_filters",
]

BASIC_FILTER_TYPE = 0x00
BASIC_PARAMS = GCSParams(p=19, m=784931)
#: The "previous filter header" of the genesis block's filter.
GENESIS_PREV_HEADER = bytes(32)
_OP_RETURN = 0x6A


def filter_key(block_hash: bytes) -> bytes:
    """The SipHash key of a block's filters: the first 16 bytes of its wire-order hash."""
    if len(block_hash) != 32:
        raise ValueError(f"a block hash is 32 bytes, got {len(block_hash)}")
    return block_hash[:16]


def basic_filter_elements(block: Block, spent_scripts: Iterable[bytes]) -> list[bytes]:
    """The distinct scripts of a block's basic filter, in first-seen order.

    ``spent_scripts`` are the scriptPubKeys of the outputs the block's inputs spend
    (one per non-coinbase input, in any order), which only the UTXO set knows.
    """
    spent = [bytes(s) for s in spent_scripts]
    inputs = sum(len(tx.inputs) for tx in block.transactions if not tx.is_coinbase)
    if len(spent) != inputs:
        raise ValueError(f"the block spends {inputs} outputs, {len(spent)} spent "
                         "scripts were given")
    elements: dict[bytes, None] = {}
    for tx in block.transactions:
        for out in tx.outputs:
            script = out.script_pubkey
            if script and script[0] != _OP_RETURN:
                elements[script] = None
    for script in spent:
        if script:
            elements[script] = None
    return list(elements)


def filter_header(filter_hash: bytes, prev_header: bytes) -> bytes:
    """The BIP157 filter header: ``dsha256(filter_hash || prev_header)``."""
    if len(filter_hash) != 32 or len(prev_header) != 32:
        raise ValueError("a filter hash and a filter header are 32 bytes each")
    return dsha256(filter_hash + prev_header)


def filter_header_chain(filter_hashes: Iterable[bytes],
                        prev_header: bytes = GENESIS_PREV_HEADER) -> list[bytes]:
    """The headers of consecutive filters, from the header before the first."""
    headers = []
    for h in filter_hashes:
        prev_header = filter_header(h, prev_header)
        headers.append(prev_header)
    return headers


@dataclass(frozen=True, slots=True)
class BlockFilter:
    """A block's basic filter: the block it belongs to and its Golomb-coded set."""

    block_hash: bytes
    gcs: GCSFilter
    filter_type: int = BASIC_FILTER_TYPE

    @classmethod
    def build(cls, block: Block, spent_scripts: Iterable[bytes]) -> BlockFilter:
        """The basic filter of ``block``, given the scripts its inputs spend."""
        block_hash = block.header.hash
        elements = basic_filter_elements(block, spent_scripts)
        return cls(block_hash, GCSFilter.build(BASIC_PARAMS, filter_key(block_hash),
                                               elements))

    @classmethod
    def parse(cls, block_hash: bytes, encoded: bytes) -> BlockFilter:
        """A serialized basic filter of the block ``block_hash`` (wire order)."""
        return cls(block_hash, GCSFilter.parse(BASIC_PARAMS, filter_key(block_hash),
                                               encoded))

    @property
    def encoded(self) -> bytes:
        """The serialization: ``CompactSize(N)`` and the Golomb-Rice stream."""
        return self.gcs.serialize()

    @property
    def filter_hash(self) -> bytes:
        return dsha256(self.encoded)

    def header(self, prev_header: bytes) -> bytes:
        """This filter's header, chained on the previous block's filter header."""
        return filter_header(self.filter_hash, prev_header)

    def match(self, script: bytes) -> bool:
        return self.gcs.match(script)

    def match_any(self, scripts: Iterable[bytes] | QuerySet) -> bool:
        return self.gcs.match_any(scripts)


def match_block_filters(filters: Sequence[BlockFilter], scripts: QuerySet) -> list[bool]:
    """For each filter, whether any watched script may be in its block (all at once:
    see :func:`aureond.chain.gcs.match_filters`)."""
    return match_filters([f.gcs for f in filters], scripts)
