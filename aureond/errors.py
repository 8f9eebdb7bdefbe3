"""The one exception root of aureond and its tree.

::

    AureonError
    ├── ConfigError                 bad configuration or network profile (names the field)
    ├── ChainError                  consensus-level problems (pure core)
    │   ├── EncodingError           bytes that do not decode (length, trailing data, ranges)
    │   ├── HeaderRejectedError     a header broke a rule: height, field, reason
    │   ├── UnconnectedHeadersError headers whose parent is unknown (not a violation)
    │   └── ProofError              a merkle proof is malformed or does not verify
    ├── ProtocolError               the P2P wire protocol was broken
    │   ├── LocalProtocolError      we were asked to send something invalid
    │   └── RemoteProtocolError     the peer sent something invalid (disconnect it)
    ├── StoreError                  the on-disk store cannot be opened or written
    ├── ResilienceError             raised by the error-recovery layer
    │   ├── CircuitOpenError        a circuit breaker refused the call (carries remaining time)
    │   ├── RateLimitedError        a token bucket refused the call (carries retry-after)
    │   └── RetryExhaustedError     retries ran out (carries the recovery context)
    ├── ApiError                    an HTTP request was bad (carries a 4xx status)
    │
    │   defined beside the code that raises them:
    ├── BatchClosedError            caching.batch: the batch processor is closed
    ├── BatchFlushError             caching.batch: a batch failed to flush (__cause__)
    ├── ReportFormatError           monitoring: a status report document is malformed
    ├── StateError                  state: watched accounts, the ledger, snapshots
    │   ├── AddressError            an address or script an account cannot watch
    │   ├── LedgerError             a block that does not extend the ledger, or an undo
    │   │                           deeper than its history (restore a snapshot)
    │   ├── SnapshotError           a snapshot file that is corrupt, truncated or foreign
    │   └── BlockMismatchError      a downloaded block that does not match our header
    └── DevnetError                 devnet: the reference regtest node (tests, demo)
        ├── NodeBinaryError, NodeStartError, NodeTimeoutError
        └── RpcTransportError, RpcError

Foreign exceptions are translated at the layer boundary with ``raise ... from exc``.
"""

from __future__ import annotations

__all__ = [
    "ApiError",
    "AureonError",
    "ChainError",
    "CircuitOpenError",
    "ConfigError",
    "EncodingError",
    "HeaderRejectedError",
    "LocalProtocolError",
    "ProofError",
    "ProtocolError",
    "RateLimitedError",
    "RemoteProtocolError",
    "ResilienceError",
    "RetryExhaustedError",
    "StoreError",
    "UnconnectedHeadersError",
]


class AureonError(Exception):
    """Root of every error aureond raises on purpose."""


class ConfigError(AureonError):
    """Configuration or a network profile is invalid; the message names the field."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class ChainError(AureonError):
    """A consensus-level problem found by the pure chain core."""


class EncodingError(ChainError):
    """Bytes that do not decode: wrong length, trailing data, out-of-range values."""


class HeaderRejectedError(ChainError):
    """A header broke a consensus rule.

    ``height`` is where the header would sit, ``field`` the header field (or rule) at
    fault, ``reason`` a short machine-readable tag, ``detail`` human-readable context.
    """

    def __init__(self, height: int, field: str, reason: str, detail: str = "") -> None:
        self.height = height
        self.field = field
        self.reason = reason
        self.detail = detail
        text = f"header at height {height} rejected: {reason} ({field})"
        if detail:
            text = f"{text}: {detail}"
        super().__init__(text)


class ProofError(ChainError):
    """A merkle proof is malformed or does not verify; ``reason`` is a short tag."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class ProtocolError(AureonError):
    """The Bitcoin P2P wire protocol was broken."""


class LocalProtocolError(ProtocolError):
    """We were asked to encode or send something the protocol does not allow."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow; disconnect it."""


class StoreError(AureonError):
    """The on-disk store cannot be opened, read or written."""


class ResilienceError(AureonError):
    """Raised by the error-recovery layer (breakers, buckets, retries)."""


class CircuitOpenError(ResilienceError):
    """A circuit breaker refused the call; ``remaining`` seconds until it may probe."""

    def __init__(self, name: str, remaining: float) -> None:
        self.name = name
        self.remaining = remaining
        super().__init__(f"circuit {name!r} is open; retry in {remaining:.3f}s")


class RateLimitedError(ResilienceError):
    """A token bucket refused the call; ``retry_after`` seconds until tokens are there."""

    def __init__(self, name: str, retry_after: float) -> None:
        self.name = name
        self.retry_after = retry_after
        super().__init__(f"rate limit {name!r} exceeded; retry in {retry_after:.3f}s")


class RetryExhaustedError(ResilienceError):
    """Retries ran out; ``context`` is the recovery context, ``__cause__`` the last error."""

    def __init__(self, operation: str, attempts: int, context: object = None) -> None:
        self.operation = operation
        self.attempts = attempts
        self.context = context
        super().__init__(f"{operation}: gave up after {attempts} attempt(s)")


class ApiError(AureonError):
    """A request to the HTTP API was bad; ``status`` is the 4xx code to answer with."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        super().__init__(f"{status} {code}: {message}")


class UnconnectedHeadersError(ChainError):
    """Headers whose parent is unknown (or already pruned); ask the peer for a locator.

    Not a rule violation: a peer may announce a header we have no parent for yet.
    """

    def __init__(self, prev_hash: bytes) -> None:
        self.prev_hash = prev_hash
        super().__init__(
            f"headers do not connect: parent {prev_hash[::-1].hex()} is unknown")
