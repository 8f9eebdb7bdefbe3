"""``/v1/accounts``: watched accounts, their coins, history and inclusion proofs.

The state layer is reached through :class:`~aureond.state.view.StateView` under
``app[STATE_VIEW_KEY]``; confirmations and proof headers come from the node's own best
chain (``NodeView``). Account ids, labels and scripts are the caller's data: they are
answered here and never logged or used as metric labels.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from aureond.api.endpoint import VIEW_KEY, Endpoint
from aureond.api.jsonio import json_response, read_json_object
from aureond.chain.hashing import hash_to_display
from aureond.errors import ApiError
from aureond.state.accounts import Account, AccountState
from aureond.state.addresses import address_for_script, script_kind
from aureond.state.errors import StateError
from aureond.state.ledger import Inclusion
from aureond.state.networks import address_params
from aureond.state.view import StateView

__all__ = ["ENDPOINTS", "STATE_VIEW_KEY", "account_json"]

STATE_VIEW_KEY = web.AppKey[StateView]("aureond_state_view")
_ID = re.compile(r"[0-9a-f]{16}")
_FIELDS = frozenset({"label", "watch", "birthday"})


def _state_view(request: web.Request) -> StateView:
    view = request.app.get(STATE_VIEW_KEY)
    if view is None:
        raise ApiError(404, "state_disabled", "this node does not keep account state")
    return view


def _account_id(request: web.Request) -> str:
    raw = request.match_info["id"]
    if not _ID.fullmatch(raw):
        raise ApiError(400, "bad_account_id", "an account id is 16 lower-case hex digits")
    return raw


def _watch_json(account: Account, network: str) -> list[dict[str, Any]]:
    params = address_params(network)
    return [{"script": s.hex(), "kind": script_kind(s),
             "address": address_for_script(s, params) if params else None}
            for s in account.scripts]


def account_json(state: AccountState, network: str, tip_height: int) -> dict[str, Any]:
    """The account document: balance, UTXOs with confirmations, and history."""
    account = state.account

    def conf(height: int) -> int:
        return max(0, tip_height - height + 1)

    return {
        "id": account.id,
        "label": account.label,
        "birthday": account.birthday,
        "watch": _watch_json(account, network),
        "balance_sat": state.balance,
        "utxos": [{"txid": hash_to_display(c.outpoint.txid), "vout": c.outpoint.vout,
                   "value_sat": c.value, "height": c.height,
                   "confirmations": conf(c.height)} for c in state.coins],
        "history": [{"txid": hash_to_display(m.txid), "kind": str(m.kind),
                     "height": m.height, "confirmations": conf(m.height),
                     "outpoint": {"txid": hash_to_display(m.coin.outpoint.txid),
                                  "vout": m.coin.outpoint.vout},
                     "value_sat": m.coin.value if m.kind == "credit" else -m.coin.value}
                    for m in state.history],
    }


async def create(request: web.Request) -> web.Response:
    state = _state_view(request)
    body = await read_json_object(request)
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise ApiError(400, "unknown_field", f"unknown field(s): {', '.join(unknown)}")
    missing = sorted(_FIELDS - set(body))
    if missing:
        raise ApiError(400, "missing_field", f"missing field(s): {', '.join(missing)}")
    try:
        account = await state.add_account(body["label"], body["watch"], body["birthday"])
    except StateError as exc:
        raise ApiError(400, "bad_account", str(exc)) from None
    return json_response({"id": account.id}, 201,
                         headers={"Location": f"/v1/accounts/{account.id}"})


async def list_accounts(request: web.Request) -> web.Response:
    state = _state_view(request)
    node = request.app[VIEW_KEY]
    progress = state.progress()
    return json_response({
        "accounts": [{"id": a.id, "label": a.label, "birthday": a.birthday,
                      "watch": _watch_json(a, node.network)} for a in state.accounts()],
        "scan": {"ledger_height": progress.ledger_height,
                 "target_height": progress.target_height, "rescans": progress.rescans,
                 "blocks_in_flight": progress.blocks_in_flight},
    })


def _found(request: web.Request) -> tuple[StateView, AccountState]:
    state = _state_view(request)
    account_id = _account_id(request)
    found = state.account_state(account_id)
    if found is None:
        raise ApiError(404, "unknown_account", f"no account {account_id}")
    return state, found


async def get_account(request: web.Request) -> web.Response:
    _, found = _found(request)
    node = request.app[VIEW_KEY]
    return json_response(account_json(found, node.network, node.tip().height))


async def delete(request: web.Request) -> web.Response:
    state = _state_view(request)
    account_id = _account_id(request)
    if not await state.delete_account(account_id):
        raise ApiError(404, "unknown_account", f"no account {account_id}")
    return web.Response(status=204)


def _proof_json(inc: Inclusion, header_hex: str | None, tip_height: int) -> dict[str, Any]:
    return {"tx_hash": hash_to_display(inc.txid),
            "merkle": [hash_to_display(b) for b in inc.branch], "pos": inc.pos,
            "block_height": inc.height, "block_hash": hash_to_display(inc.block_hash),
            "tx_count": inc.tx_count, "header": header_hex,
            "confirmations": max(0, tip_height - inc.height + 1)}


async def proofs(request: web.Request) -> web.Response:
    state, found = _found(request)
    node = request.app[VIEW_KEY]
    tip = node.tip().height
    out = []
    for txid in found.txids:
        inc = state.inclusion(txid)
        if inc is None:
            continue
        info = node.header_at(inc.height)
        header = (info.header.serialize().hex()
                  if info is not None and info.header.hash == inc.block_hash else None)
        out.append(_proof_json(inc, header, tip))
    return json_response({"id": found.account.id, "format": "electrum-get-merkle",
                          "verify": "aureond proof verify --network NET --header HEADER "
                                    "--electrum FILE (one file per proof)",
                          "proofs": out})


ENDPOINTS = (
    Endpoint("POST", "/v1/accounts", create,
             "Watch an account: {label, watch: [address or script hex], birthday}."),
    Endpoint("GET", "/v1/accounts", list_accounts, "Accounts and the block scan's progress."),
    Endpoint("GET", "/v1/accounts/{id}", get_account,
             "An account: balance, UTXOs with confirmations, history."),
    Endpoint("DELETE", "/v1/accounts/{id}", delete, "Stop watching an account."),
    Endpoint("GET", "/v1/accounts/{id}/proofs", proofs,
             "Merkle proofs (Electrum get_merkle form) of the account's transactions."),
)
