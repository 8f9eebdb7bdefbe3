"""Errors of the development network harness.

::

    AureonError
    └── DevnetError                 the regtest harness could not do what was asked
        ├── NodeBinaryError         the node binaries are missing and cannot be fetched
        ├── NodeStartError          the node did not start (carries the log tail)
        ├── NodeTimeoutError        a bounded wait ran out (sync, stop, a condition)
        ├── RpcTransportError       the RPC server could not be reached or answered badly
        └── RpcError                the node answered with a JSON-RPC error (code, message)

They live here, under the one root, because only development tooling raises them.
"""

from __future__ import annotations

from aureond.errors import AureonError

__all__ = [
    "DevnetError",
    "NodeBinaryError",
    "NodeStartError",
    "NodeTimeoutError",
    "RpcError",
    "RpcTransportError",
]


class DevnetError(AureonError):
    """The regtest harness could not do what was asked."""


class NodeBinaryError(DevnetError):
    """The reference node binaries are missing and could not be fetched."""


class NodeStartError(DevnetError):
    """The node process did not come up; ``log_tail`` holds the end of its log."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        self.log_tail = log_tail
        text = message
        if log_tail:
            text = f"{message}\n--- end of the node's log ---\n{log_tail}"
        super().__init__(text)


class NodeTimeoutError(DevnetError):
    """A bounded wait on the node ran out."""


class RpcTransportError(DevnetError):
    """The RPC server could not be reached, timed out, or answered without JSON-RPC."""

    def __init__(self, method: str, reason: str) -> None:
        self.method = method
        self.reason = reason
        super().__init__(f"rpc {method}: {reason}")


class RpcError(DevnetError):
    """The node answered the call with a JSON-RPC error object."""

    def __init__(self, method: str, code: int, message: str) -> None:
        self.method = method
        self.code = code
        self.message = message
        super().__init__(f"rpc {method}: error {code}: {message}")
