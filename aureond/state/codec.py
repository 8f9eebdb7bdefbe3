"""Canonical binary encoding of account leaves and of the ledger's other parts.

One value has one encoding: integers fixed-width little-endian, lengths and counts as
canonical CompactSize, lists in a defined order (coins by block, position, outpoint;
history in chain order). :func:`decode_leaf` refuses anything :func:`encode_leaf`
would not produce, so a leaf's hash commits to exactly one account state.

Leaf layout (version 1)::

    u8 version | bytes id | bytes label | u32 birthday
    | n * bytes script
    | n * coin                     coin = txid(32) u32 vout u64 value u32 height u32 pos
                                          CompactSize script-index
    | n * (u8 kind | txid(32) u32 height u32 pos | coin)
"""

from __future__ import annotations

import struct

from aureond.chain.tx import OutPoint, compact_size
from aureond.errors import EncodingError
from aureond.state.accounts import Account, AccountState
from aureond.state.ledger import BlockRef, Coin, Inclusion, MoveKind, Movement, UndoRecord

__all__ = ["LEAF_VERSION", "Reader", "decode_leaf", "encode_leaf", "read_inclusion",
           "read_undo", "write_bytes", "write_inclusion", "write_undo"]

LEAF_VERSION = 1
_COIN = struct.Struct("<32sIQII")
_MOVE = struct.Struct("<B32sII")
_U32 = struct.Struct("<I")
_KINDS = (MoveKind.DEBIT, MoveKind.CREDIT)
_KIND_CODE = {k: i for i, k in enumerate(_KINDS)}


class Reader:
    """Bounded reads from bytes; every problem is an ``EncodingError`` naming the field."""

    __slots__ = ("buf", "off")

    def __init__(self, buf: bytes, off: int = 0) -> None:
        self.buf = buf
        self.off = off

    def take(self, n: int, what: str) -> bytes:
        end = self.off + n
        if n < 0 or end > len(self.buf):
            raise EncodingError(f"{what}: truncated at offset {self.off}")
        out = self.buf[self.off:end]
        self.off = end
        return out

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u32(self, what: str) -> int:
        return int.from_bytes(self.take(4, what), "little")

    def u64(self, what: str) -> int:
        return int.from_bytes(self.take(8, what), "little")

    def count(self, what: str, unit: int = 1) -> int:
        first = self.u8(what)
        if first < 0xFD:
            n = first
        else:
            width = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
            n = int.from_bytes(self.take(width, what), "little")
            if compact_size(n)[0] != first:
                raise EncodingError(f"{what}: non-canonical CompactSize")
        if n * unit > len(self.buf) - self.off:
            raise EncodingError(f"{what}: {n} claimed, only {len(self.buf) - self.off} "
                                "bytes left")
        return n

    def bytes_(self, what: str) -> bytes:
        return self.take(self.count(what), what)

    def end(self, what: str) -> None:
        if self.off != len(self.buf):
            raise EncodingError(f"{what}: {len(self.buf) - self.off} trailing bytes")


def write_bytes(data: bytes) -> bytes:
    return compact_size(len(data)) + data


def _coin_key(c: Coin) -> tuple[int, int, bytes, int]:
    return (c.height, c.pos, c.outpoint.txid, c.outpoint.vout)


def encode_leaf(state: AccountState) -> bytes:
    """The canonical bytes of one account's state."""
    account = state.account
    index = {s: i for i, s in enumerate(account.scripts)}
    parts = [bytes((LEAF_VERSION,)), write_bytes(account.id.encode("ascii")),
             write_bytes(account.label.encode("utf-8")), _U32.pack(account.birthday),
             compact_size(len(account.scripts))]
    parts += [write_bytes(s) for s in account.scripts]

    def coin(c: Coin) -> bytes:
        op = c.outpoint
        return (_COIN.pack(op.txid, op.vout, c.value, c.height, c.pos)
                + compact_size(index[c.script]))

    coins = sorted(state.coins, key=_coin_key)
    parts.append(compact_size(len(coins)))
    parts += [coin(c) for c in coins]
    history = sorted(state.history, key=lambda m: m.sort_key)
    parts.append(compact_size(len(history)))
    parts += [_MOVE.pack(_KIND_CODE[m.kind], m.txid, m.height, m.pos) + coin(m.coin)
              for m in history]
    return b"".join(parts)


def _coin_fields(r: Reader) -> tuple[OutPoint, int, int, int]:
    txid = r.take(32, "coin txid")
    vout, value = r.u32("coin vout"), r.u64("coin value")
    height, pos = r.u32("coin height"), r.u32("coin pos")
    return OutPoint(txid, vout), value, height, pos


def _read_coin(r: Reader, scripts: tuple[bytes, ...]) -> Coin:
    op, value, height, pos = _coin_fields(r)
    i = r.count("coin script index")
    if i >= len(scripts):
        raise EncodingError(f"coin script index {i} beyond {len(scripts)} scripts")
    return Coin(op, scripts[i], value, height, pos)


def decode_leaf(leaf: bytes) -> AccountState:
    """An account state from its leaf; ``EncodingError`` when not canonical."""
    r = Reader(leaf)
    if r.u8("leaf version") != LEAF_VERSION:
        raise EncodingError(f"leaf version is not {LEAF_VERSION}")
    try:
        account_id = r.bytes_("account id").decode("ascii")
        label = r.bytes_("label").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EncodingError(f"account id or label: {exc}") from None
    birthday = r.u32("birthday")
    scripts = tuple(r.bytes_("script") for _ in range(r.count("script count", 1)))
    coins = tuple(_read_coin(r, scripts) for _ in range(r.count("coin count", 53)))
    history = []
    for _ in range(r.count("history count", 94)):
        code = r.u8("movement kind")
        if code >= len(_KINDS):
            raise EncodingError(f"movement kind {code} is unknown")
        txid = r.take(32, "movement txid")
        height, pos = r.u32("movement height"), r.u32("movement pos")
        history.append(Movement(_KINDS[code], txid, height, pos, _read_coin(r, scripts)))
    r.end("leaf")
    state = AccountState(Account(account_id, label, scripts, birthday), coins,
                         tuple(history))
    if list(scripts) != sorted(set(scripts)) or encode_leaf(state) != leaf:
        raise EncodingError(f"leaf of account {account_id!r} is not in canonical form")
    return state


def write_inclusion(inc: Inclusion) -> bytes:
    return (inc.txid + inc.block_hash + struct.pack("<III", inc.height, inc.pos, inc.tx_count)
            + compact_size(len(inc.branch)) + b"".join(inc.branch))


def read_inclusion(r: Reader) -> Inclusion:
    txid = r.take(32, "inclusion txid")
    block = r.take(32, "inclusion block")
    height, pos, tx_count = r.u32("height"), r.u32("pos"), r.u32("tx_count")
    branch = tuple(r.take(32, "branch") for _ in range(r.count("branch", 32)))
    return Inclusion(txid, block, height, pos, tx_count, branch)


def _write_full_coin(c: Coin) -> bytes:
    op = c.outpoint
    return _COIN.pack(op.txid, op.vout, c.value, c.height, c.pos) + write_bytes(c.script)


def _read_full_coin(r: Reader) -> Coin:
    op, value, height, pos = _coin_fields(r)
    return Coin(op, r.bytes_("coin script"), value, height, pos)


def write_undo(rec: UndoRecord) -> bytes:
    parts = [_U32.pack(rec.block.height), rec.block.hash, rec.prev_hash,
             compact_size(len(rec.created))]
    parts += [_write_full_coin(c) for c in rec.created]
    parts.append(compact_size(len(rec.spent)))
    parts += [_write_full_coin(c) for c in rec.spent]
    parts.append(compact_size(len(rec.txids)))
    parts += list(rec.txids)
    return b"".join(parts)


def read_undo(r: Reader) -> UndoRecord:
    height = r.u32("undo height")
    block = r.take(32, "undo block")
    prev = r.take(32, "undo prev")
    created = tuple(_read_full_coin(r) for _ in range(r.count("created", 53)))
    spent = tuple(_read_full_coin(r) for _ in range(r.count("spent", 53)))
    txids = tuple(r.take(32, "undo txid") for _ in range(r.count("txids", 32)))
    return UndoRecord(BlockRef(height, block), prev, created, spent, txids)
