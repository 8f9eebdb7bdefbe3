"""Double SHA-256 and the display-order hex convention.

Hashes are ``bytes`` in wire (internal) byte order everywhere inside aureond. Display
hex (byte-reversed, as RPC and explorers print it) exists only at the edges.
"""

from __future__ import annotations

from hashlib import sha256

from aureond.errors import EncodingError

__all__ = ["dsha256", "hash_from_display", "hash_to_display"]


def dsha256(data: bytes | memoryview) -> bytes:
    """SHA-256 applied twice."""
    return sha256(sha256(data).digest()).digest()


def hash_to_display(h: bytes) -> str:
    """Wire-order hash bytes to display-order hex."""
    return h[::-1].hex()


def hash_from_display(text: str) -> bytes:
    """Display-order hex (64 hex digits) to wire-order hash bytes."""
    if not isinstance(text, str) or len(text) != 64:
        raise EncodingError("a hash is 64 hex digits")
    try:
        raw = bytes.fromhex(text)
    except ValueError as exc:
        raise EncodingError(f"not hex: {text[:16]}...") from exc
    return raw[::-1]
