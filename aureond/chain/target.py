"""Compact ``bits`` <-> 256-bit target, and chain work.

The compact form is a base-256 float: one exponent byte and a 23-bit mantissa with a
sign bit. Only canonical, non-negative, non-overflowing encodings are accepted: the
encoding a node would produce for the value it decodes to.
"""

from __future__ import annotations

from aureond.errors import EncodingError

__all__ = ["bits_to_target", "decode_compact", "target_to_bits", "work_from_bits",
           "work_from_target"]

_MAX_256 = (1 << 256) - 1


def decode_compact(bits: int) -> tuple[int, bool, bool]:
    """Decode like Bitcoin Core's ``SetCompact``: (value, negative, overflow)."""
    size = bits >> 24
    word = bits & 0x007FFFFF
    if size <= 3:
        word >>= 8 * (3 - size)
        value = word
    else:
        value = word << (8 * (size - 3))
    negative = word != 0 and (bits & 0x00800000) != 0
    overflow = word != 0 and (size > 34 or (word > 0xFF and size > 33)
                              or (word > 0xFFFF and size > 32))
    return value, negative, overflow


def bits_to_target(bits: int) -> int:
    """The target a canonical compact ``bits`` encodes; anything else is an error."""
    if not 0 <= bits <= 0xFFFFFFFF:
        raise EncodingError(f"bits 0x{bits:x} is not a uint32")
    value, negative, overflow = decode_compact(bits)
    if negative:
        raise EncodingError(f"bits 0x{bits:08x} encodes a negative target")
    if overflow:
        raise EncodingError(f"bits 0x{bits:08x} overflows 256 bits")
    if value == 0:
        raise EncodingError(f"bits 0x{bits:08x} encodes a zero target")
    if target_to_bits(value) != bits:
        raise EncodingError(f"bits 0x{bits:08x} is not the canonical encoding")
    return value


def target_to_bits(target: int) -> int:
    """Encode like Bitcoin Core's ``GetCompact`` (always canonical)."""
    if not 0 <= target <= _MAX_256:
        raise EncodingError("target out of range")
    size = (target.bit_length() + 7) // 8
    compact = target << (8 * (3 - size)) if size <= 3 else target >> (8 * (size - 3))
    if compact & 0x00800000:
        compact >>= 8
        size += 1
    return (size << 24) | compact


def work_from_target(target: int) -> int:
    """Expected number of hashes to meet ``target``: 2**256 // (target + 1)."""
    return (1 << 256) // (target + 1)


def work_from_bits(bits: int) -> int:
    return work_from_target(bits_to_target(bits))
