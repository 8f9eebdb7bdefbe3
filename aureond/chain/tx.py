"""Minimal transaction and block parsing: enough for txids, wtxids and script scans.

Both serializations are read: legacy, and the BIP144 segwit form (``version | 0x00 |
0x01 | inputs | outputs | witnesses | locktime``). The txid is the double SHA-256 of
the non-witness serialization, the wtxid that of the full bytes (equal for a legacy
transaction). Nothing is re-serialized: the txid preimage is cut from the input.

Parsing is strict, as a consensus-valid transaction requires: at least one input and
one output, a segwit flag of exactly ``0x01`` with at least one non-empty witness,
canonical CompactSize, no trailing bytes. Every count is checked against the bytes that
are left (an input needs >= 41 bytes, an output >= 9, a transaction >= 60) before
anything is allocated for it, so a hostile count costs nothing.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from aureond.chain.hashing import dsha256, hash_to_display
from aureond.chain.header import HEADER_SIZE, BlockHeader
from aureond.errors import EncodingError

__all__ = [
    "MIN_TX_SIZE",
    "Block",
    "OutPoint",
    "Transaction",
    "TxIn",
    "TxOut",
    "compact_size",
    "is_transaction",
    "parse_block",
    "parse_transaction",
    "read_count",
]

#: Smallest serialized transaction: version, 1 input (41), 1 output (9), locktime.
MIN_TX_SIZE = 60
_MIN_INPUT_SIZE = 41      # outpoint 36 + empty script 1 + sequence 4
_MIN_OUTPUT_SIZE = 9      # value 8 + empty script 1
_MAX_COMPACT = 0x0200_0000  # the reference node's MAX_SIZE for any length or count

_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")
_OUTPOINT = struct.Struct("<32sI")


@dataclass(frozen=True, slots=True)
class OutPoint:
    """The output an input spends: wire-order ``txid`` and output index ``vout``."""

    txid: bytes
    vout: int

    @property
    def is_null(self) -> bool:
        """True for the coinbase input's outpoint."""
        return self.vout == 0xFFFFFFFF and self.txid == bytes(32)


@dataclass(frozen=True, slots=True)
class TxIn:
    prevout: OutPoint
    script_sig: bytes
    sequence: int


@dataclass(frozen=True, slots=True)
class TxOut:
    value: int
    script_pubkey: bytes


@dataclass(frozen=True, slots=True)
class Transaction:
    """A parsed transaction. Witness stacks are checked but not kept."""

    version: int
    inputs: tuple[TxIn, ...]
    outputs: tuple[TxOut, ...]
    locktime: int
    txid: bytes
    wtxid: bytes
    has_witness: bool
    size: int
    base_size: int

    @property
    def txid_hex(self) -> str:
        return hash_to_display(self.txid)

    @property
    def weight(self) -> int:
        """BIP141 weight: three times the base size plus the total size."""
        return self.base_size * 3 + self.size

    @property
    def is_coinbase(self) -> bool:
        return len(self.inputs) == 1 and self.inputs[0].prevout.is_null


@dataclass(frozen=True, slots=True)
class Block:
    header: BlockHeader
    transactions: tuple[Transaction, ...]

    @property
    def txids(self) -> list[bytes]:
        return [tx.txid for tx in self.transactions]


def _compact(buf: bytes, off: int, what: str) -> tuple[int, int]:
    """A canonical CompactSize at ``off``: (value, offset after it)."""
    end = len(buf)
    if off >= end:
        raise EncodingError(f"{what}: truncated at offset {off}")
    first = buf[off]
    if first < 0xFD:
        return first, off + 1
    if first == 0xFD:
        width, minimum = 2, 0xFD
    elif first == 0xFE:
        width, minimum = 4, 0x1_0000
    else:
        width, minimum = 8, 0x1_0000_0000
    stop = off + 1 + width
    if stop > end:
        raise EncodingError(f"{what}: truncated CompactSize at offset {off}")
    value = int.from_bytes(buf[off + 1:stop], "little")
    if value < minimum:
        raise EncodingError(f"{what}: non-canonical CompactSize {value} at offset {off}")
    if value > _MAX_COMPACT:
        raise EncodingError(f"{what}: size {value} exceeds {_MAX_COMPACT}")
    return value, stop


def read_count(buf: bytes, off: int, what: str, unit: int) -> tuple[int, int]:
    """A CompactSize count at ``off`` of items of at least ``unit`` bytes each.

    The count is checked against the bytes left before anything is allocated for it.
    Returns (count, offset after the CompactSize).
    """
    n, off = _compact(buf, off, what)
    if n * unit > len(buf) - off:
        raise EncodingError(
            f"{what}: {n} claimed at offset {off}, only {len(buf) - off} bytes left")
    return n, off


def compact_size(n: int) -> bytes:
    """The CompactSize encoding of ``n`` (always the canonical, shortest form)."""
    if n < 0xFD:
        return bytes((n,))
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    if n <= 0xFFFF_FFFF:
        return b"\xfe" + n.to_bytes(4, "little")
    return b"\xff" + n.to_bytes(8, "little")


def _bytes(buf: bytes, off: int, what: str) -> tuple[bytes, int]:
    n, off = read_count(buf, off, what, 1)
    return buf[off:off + n], off + n


def _parse_tx_at(buf: bytes, start: int) -> tuple[Transaction, int]:
    """Parse one transaction starting at ``start``; return it and the offset after it."""
    end = len(buf)
    if end - start < MIN_TX_SIZE:
        raise EncodingError(f"transaction at offset {start}: only {end - start} bytes left")
    (version,) = _I32.unpack_from(buf, start)
    off = start + 4
    segwit = buf[off] == 0
    if segwit:
        if off + 1 >= end or buf[off + 1] != 1:
            raise EncodingError(f"transaction at offset {start}: bad segwit flag "
                                "(zero inputs, or a flag other than 0x01)")
        off += 2
    io_start = off
    n_in, off = read_count(buf, off, "input count", _MIN_INPUT_SIZE)
    if n_in == 0:
        raise EncodingError(f"transaction at offset {start}: no inputs")
    inputs = []
    for _ in range(n_in):
        if off + 36 > end:
            raise EncodingError(f"input outpoint truncated at offset {off}")
        txid, vout = _OUTPOINT.unpack_from(buf, off)
        script, off = _bytes(buf, off + 36, "scriptSig")
        if off + 4 > end:
            raise EncodingError(f"input sequence truncated at offset {off}")
        (sequence,) = _U32.unpack_from(buf, off)
        off += 4
        inputs.append(TxIn(OutPoint(txid, vout), script, sequence))
    n_out, off = read_count(buf, off, "output count", _MIN_OUTPUT_SIZE)
    if n_out == 0:
        raise EncodingError(f"transaction at offset {start}: no outputs")
    outputs = []
    for _ in range(n_out):
        if off + 8 > end:
            raise EncodingError(f"output value truncated at offset {off}")
        (value,) = _I64.unpack_from(buf, off)
        script, off = _bytes(buf, off + 8, "scriptPubKey")
        outputs.append(TxOut(value, script))
    io_end = off
    if segwit:
        any_witness = False
        for _ in range(n_in):
            n_items, off = read_count(buf, off, "witness item count", 1)
            for _ in range(n_items):
                n, off = read_count(buf, off, "witness item", 1)
                off += n
            any_witness = any_witness or n_items > 0
        if not any_witness:
            raise EncodingError(f"transaction at offset {start}: segwit flag set "
                                "but every witness is empty")
    if off + 4 > end:
        raise EncodingError(f"locktime truncated at offset {off}")
    (locktime,) = _U32.unpack_from(buf, off)
    off += 4
    raw = buf[start:off]
    if segwit:
        stripped = buf[start:start + 4] + buf[io_start:io_end] + buf[off - 4:off]
        txid, wtxid = dsha256(stripped), dsha256(raw)
        base_size = len(stripped)
    else:
        txid = wtxid = dsha256(raw)
        base_size = len(raw)
    tx = Transaction(version, tuple(inputs), tuple(outputs), locktime, txid, wtxid,
                     segwit, len(raw), base_size)
    return tx, off


def parse_transaction(raw: bytes | bytearray | memoryview) -> Transaction:
    """Exactly one transaction; trailing bytes are an ``EncodingError``."""
    buf = bytes(raw)
    tx, off = _parse_tx_at(buf, 0)
    if off != len(buf):
        raise EncodingError(f"{len(buf) - off} trailing bytes after the transaction")
    return tx


def is_transaction(raw: bytes) -> bool:
    """True when ``raw`` is exactly one well-formed transaction."""
    try:
        parse_transaction(raw)
    except EncodingError:
        return False
    return True


def parse_block(raw: bytes | bytearray | memoryview) -> Block:
    """A whole serialized block: header, transaction count, transactions; nothing after.

    The count is bounded by the bytes present (a transaction is at least 60 bytes) and
    must be at least one. The merkle root is *not* checked here; see
    :func:`aureond.chain.merkle.merkle_root`.
    """
    buf = bytes(raw)
    if len(buf) < HEADER_SIZE:
        raise EncodingError(f"a block starts with an {HEADER_SIZE}-byte header, "
                            f"got {len(buf)} bytes")
    header = BlockHeader.parse(buf[:HEADER_SIZE])
    n_tx, off = read_count(buf, HEADER_SIZE, "transaction count", MIN_TX_SIZE)
    if n_tx == 0:
        raise EncodingError("a block has at least one transaction (the coinbase)")
    txs = []
    for _ in range(n_tx):
        tx, off = _parse_tx_at(buf, off)
        txs.append(tx)
    if off != len(buf):
        raise EncodingError(f"{len(buf) - off} trailing bytes after the last transaction")
    return Block(header, tuple(txs))
