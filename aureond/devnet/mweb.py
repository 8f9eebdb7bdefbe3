"""Mining Litecoin's regtest through MWEB activation.

MWEB activates at height 432 on Litecoin's regtest, and from then on ``litecoind``
refuses to mine (``bad-txns-vin-empty``: the HogEx transaction has nothing to
integrate) until one block carries a peg-in. :func:`generate` mines like
``generatetoaddress`` and makes that happen on the way: before height 332 it pays the
first block of a call to the node's own wallet when the wallet has no coins (a
coinbase needs 100 confirmations before it can pay the peg-in), and just before block
432 it sends one coin to a fresh MWEB address of the wallet, so block 432 holds the
peg-in. From 432 on every block ends with the HogEx transaction.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from aureond.devnet.errors import DevnetError, RpcError

if TYPE_CHECKING:
    from aureond.devnet.rpc import RpcClient

__all__ = ["COINBASE_MATURITY", "PEG_IN_AMOUNT", "generate"]

COINBASE_MATURITY = 100
PEG_IN_AMOUNT = "1"
_FUNDED = Decimal(2)


def generate(rpc: RpcClient, activation: int, n: int, address: str) -> list[str]:
    """Mine ``n`` blocks to ``address``, pegging in at ``activation`` if it is crossed."""
    height = rpc.getblockcount()
    if n <= 0 or height >= activation:
        return rpc.generate(n, address)
    out: list[str] = []
    if height + 1 < activation - COINBASE_MATURITY and not _funded(rpc):
        out += rpc.generate(1, rpc.getnewaddress())
        height += 1
    before = min(n - len(out), activation - 1 - height)
    if before > 0:
        out += rpc.generate(before, address)
    if len(out) < n:
        _peg_in(rpc, activation)
        out += rpc.generate(n - len(out), address)
    return out


def _funded(rpc: RpcClient) -> bool:
    mine = rpc.call("getbalances").get("mine", {})
    return Decimal(mine.get("trusted", 0)) + Decimal(mine.get("immature", 0)) >= _FUNDED


def _peg_in(rpc: RpcClient, activation: int) -> None:
    try:
        rpc.sendtoaddress(str(rpc.call("getnewaddress", "", "mweb")), PEG_IN_AMOUNT)
    except RpcError as exc:
        raise DevnetError(
            f"cannot mine past MWEB activation at height {activation}: the peg-in failed "
            f"({exc.message}); the wallet needs a coinbase mined before height "
            f"{activation - COINBASE_MATURITY}") from exc
