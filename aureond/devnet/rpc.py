"""A small synchronous JSON-RPC 1.0 client for the reference node.

Development and test tooling only (the daemon never talks RPC): one HTTP connection
per call over ``http.client``, basic auth, a bounded timeout on every call and a bound
on the response size. Amounts travel as decimal strings, which the node accepts, so no
value is ever rounded through a float; numbers in answers are parsed as ``Decimal``.
"""

from __future__ import annotations

import base64
import http.client
import itertools
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal, TypeVar, overload

from aureond.devnet.errors import RpcError, RpcTransportError

__all__ = ["RPC_IN_WARMUP", "RpcClient"]

T = TypeVar("T")

RPC_IN_WARMUP = -28          # the node is starting: loading the block index and so on
_MAX_RESPONSE = 512 * 1024 * 1024
_SECONDS_PER_BLOCK = 0.01    # extra time allowed per block asked of generatetoaddress
_SATOSHI = Decimal("0.00000001")


class RpcClient:
    """Calls one node's JSON-RPC interface. ``default_address`` is where ``generate``
    mines to when no address is given."""

    def __init__(self, host: str, port: int, user: str, password: str, *,
                 timeout: float = 60.0, default_address: str | None = None) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.host = host
        self.port = port
        self.timeout = timeout
        self.default_address = default_address
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        self._auth = f"Basic {token}"
        self._ids = itertools.count(1)

    def __repr__(self) -> str:
        return f"RpcClient(http://{self.host}:{self.port})"

    def call(self, method: str, *params: Any, timeout: float | None = None) -> Any:
        """Call ``method`` and return its ``result``.

        Raises :class:`RpcError` when the node answers with an error object and
        :class:`RpcTransportError` when it cannot be reached, times out, or answers
        something that is not JSON-RPC.
        """
        body = json.dumps({"jsonrpc": "1.0", "id": next(self._ids), "method": method,
                           "params": list(params)}).encode()
        connection = http.client.HTTPConnection(self.host, self.port,
                                                timeout=timeout or self.timeout)
        try:
            connection.request("POST", "/", body, {
                "Authorization": self._auth, "Content-Type": "application/json"})
            response = connection.getresponse()
            raw = response.read(_MAX_RESPONSE + 1)
            status = response.status
        except TimeoutError as exc:
            raise RpcTransportError(method, "timed out") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise RpcTransportError(method, f"{type(exc).__name__}: {exc}") from exc
        finally:
            connection.close()
        if len(raw) > _MAX_RESPONSE:
            raise RpcTransportError(method, f"answer larger than {_MAX_RESPONSE} bytes")
        return _result(method, status, raw)

    # --- chain -------------------------------------------------------------------------

    def getblockcount(self) -> int:
        return _typed(self.call("getblockcount"), int, "getblockcount")

    def getbestblockhash(self) -> str:
        return _typed(self.call("getbestblockhash"), str, "getbestblockhash")

    def getblockhash(self, height: int) -> str:
        return _typed(self.call("getblockhash", height), str, "getblockhash")

    @overload
    def getblockheader(self, block_hash: str, verbose: Literal[True] = ...) -> dict[str, Any]:
        ...

    @overload
    def getblockheader(self, block_hash: str, verbose: Literal[False]) -> str: ...

    def getblockheader(self, block_hash: str, verbose: bool = True) -> dict[str, Any] | str:
        """The header as a JSON object, or (``verbose=False``) as 80-byte hex."""
        result = self.call("getblockheader", block_hash, verbose)
        if verbose:
            return _typed(result, dict, "getblockheader")
        return _typed(result, str, "getblockheader")

    def getblock(self, block_hash: str, verbosity: int = 1) -> Any:
        return self.call("getblock", block_hash, verbosity)

    def getblockchaininfo(self) -> dict[str, Any]:
        return _typed(self.call("getblockchaininfo"), dict, "getblockchaininfo")

    def getchaintips(self) -> list[dict[str, Any]]:
        return _typed(self.call("getchaintips"), list, "getchaintips")

    def invalidateblock(self, block_hash: str) -> None:
        self.call("invalidateblock", block_hash)

    def reconsiderblock(self, block_hash: str) -> None:
        self.call("reconsiderblock", block_hash)

    def generate(self, n: int, address: str | None = None) -> list[str]:
        """Mine ``n`` blocks to ``address`` (default: ``default_address``).

        This node has ``generate`` only with a wallet, so this always uses
        ``generatetoaddress``: a non-wallet address is also the fast way to mine.
        """
        if n < 0:
            raise ValueError(f"cannot mine {n} blocks")
        target = address or self.default_address
        if target is None:
            raise ValueError("no address to mine to: pass one or set default_address")
        result = self.call("generatetoaddress", n, target,
                           timeout=self.timeout + n * _SECONDS_PER_BLOCK)
        return _typed(result, list, "generatetoaddress")

    # --- wallet and proofs -------------------------------------------------------------

    def getnewaddress(self) -> str:
        return _typed(self.call("getnewaddress"), str, "getnewaddress")

    def sendtoaddress(self, address: str, amount: Decimal | int | str) -> str:
        """Send ``amount`` coins (not satoshis); returns the txid."""
        value = Decimal(amount)
        if value <= 0 or value != value.quantize(_SATOSHI):
            raise ValueError(f"amount must be positive with at most 8 decimals: {amount}")
        return _typed(self.call("sendtoaddress", address, str(value)), str, "sendtoaddress")

    def gettxoutproof(self, txids: Sequence[str], block_hash: str | None = None) -> str:
        """The BIP37 merkle block (hex) proving ``txids`` are in a block."""
        params: list[Any] = [list(txids)]
        if block_hash is not None:
            params.append(block_hash)
        return _typed(self.call("gettxoutproof", *params), str, "gettxoutproof")

    # --- network -----------------------------------------------------------------------

    def getnetworkinfo(self) -> dict[str, Any]:
        return _typed(self.call("getnetworkinfo"), dict, "getnetworkinfo")

    def getpeerinfo(self) -> list[dict[str, Any]]:
        return _typed(self.call("getpeerinfo"), list, "getpeerinfo")

    def setnetworkactive(self, active: bool) -> None:
        self.call("setnetworkactive", active)

    def addnode(self, node: str, command: Literal["add", "remove", "onetry"]) -> None:
        self.call("addnode", node, command)

    def disconnectnode(self, address: str = "", nodeid: int | None = None) -> None:
        """Disconnect a peer by ``"host:port"`` or by ``nodeid`` (exactly one)."""
        if bool(address) == (nodeid is not None):
            raise ValueError("give exactly one of address and nodeid")
        if nodeid is None:
            self.call("disconnectnode", address)
        else:
            self.call("disconnectnode", "", nodeid)

    def clearbanned(self) -> None:
        self.call("clearbanned")

    def stop(self) -> None:
        self.call("stop")


def _result(method: str, status: int, raw: bytes) -> Any:
    try:
        answer = json.loads(raw, parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        hint = " (wrong RPC user or password?)" if status == 401 else ""
        raise RpcTransportError(method, f"HTTP {status} without a JSON body{hint}") from exc
    if not isinstance(answer, dict):
        raise RpcTransportError(method, f"HTTP {status}: answer is not a JSON object")
    error = answer.get("error")
    if error is not None:
        if isinstance(error, dict):
            code = error.get("code")
            raise RpcError(method, code if isinstance(code, int) else 0,
                           str(error.get("message", "")))
        raise RpcError(method, 0, str(error))
    if status != 200:
        raise RpcTransportError(method, f"HTTP {status} without an error object")
    return answer.get("result")


def _typed(value: Any, kind: type[T], method: str) -> T:
    if isinstance(value, bool) or not isinstance(value, kind):
        raise RpcTransportError(method, f"expected {kind.__name__}, got {type(value).__name__}")
    return value
