"""Watched accounts: a label, the scripts it watches, and the height it starts at.

An account sees what a scan from its birthday alone would find: its scripts' coins
created at or after the birthday and the history of those coins. The ledger watches
each script from the lowest birthday of the accounts that share it, and
:func:`account_state` filters the rest out, so two accounts may share a script.

Account ids are random (16 hex digits from the injected random source): they reveal
nothing about the scripts. Ids, labels and scripts are user data: never put them in a
metric label or a log line above debug.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from aureond.clock import RandomSource
from aureond.state.addresses import watch_script
from aureond.state.errors import AddressError, StateError
from aureond.state.ledger import Coin, Ledger, Movement
from aureond.state.networks import AddressParams

__all__ = [
    "MAX_ACCOUNTS",
    "MAX_BIRTHDAY",
    "MAX_LABEL_LENGTH",
    "MAX_SCRIPTS_PER_ACCOUNT",
    "Account",
    "AccountRegistry",
    "AccountState",
    "account_state",
    "new_account",
]

MAX_LABEL_LENGTH = 100
MAX_SCRIPTS_PER_ACCOUNT = 100
#: Accounts one node holds unless configured otherwise.
MAX_ACCOUNTS = 1_000_000
MAX_BIRTHDAY = 0x7FFFFFFF
_ID_BYTES = 8


@dataclass(frozen=True, slots=True)
class Account:
    """An account; ``scripts`` are sorted and distinct."""

    id: str
    label: str
    scripts: tuple[bytes, ...]
    birthday: int


@dataclass(frozen=True, slots=True)
class AccountState:
    """An account with what it owns and its history, as of the ledger's tip."""

    account: Account
    coins: tuple[Coin, ...]
    history: tuple[Movement, ...]

    @property
    def balance(self) -> int:
        return sum(c.value for c in self.coins)

    @property
    def txids(self) -> tuple[bytes, ...]:
        """Every transaction of the history, once, in chain order."""
        return tuple(dict.fromkeys(m.txid for m in self.history))


def _check_label(label: object) -> str:
    if not isinstance(label, str) or not 1 <= len(label) <= MAX_LABEL_LENGTH:
        raise StateError(f"label: a string of 1 to {MAX_LABEL_LENGTH} characters")
    if not label.isprintable():
        raise StateError("label: printable characters only")
    return label


def new_account(label: str, watch: Sequence[str], birthday: int,
                params: AddressParams | None, rng: RandomSource) -> Account:
    """Validate a request and make an account with a fresh random id.

    ``watch`` items are addresses of the network or scriptPubKey hex
    (:func:`~aureond.state.addresses.watch_script`). Raises :class:`StateError` (or its
    :class:`AddressError`) naming the field and the item at fault.
    """
    label = _check_label(label)
    if isinstance(watch, str) or not isinstance(watch, Sequence) or not watch:
        raise StateError("watch: a non-empty list of addresses or script hex")
    if len(watch) > MAX_SCRIPTS_PER_ACCOUNT:
        raise StateError(f"watch: at most {MAX_SCRIPTS_PER_ACCOUNT} items, got {len(watch)}")
    scripts = set()
    for i, item in enumerate(watch):
        try:
            scripts.add(watch_script(item, params))
        except AddressError as exc:
            raise AddressError(f"watch[{i}]: {exc}") from None
    if (not isinstance(birthday, int) or isinstance(birthday, bool)
            or not 0 <= birthday <= MAX_BIRTHDAY):
        raise StateError(f"birthday: a block height from 0 to {MAX_BIRTHDAY}")
    account_id = rng.randbytes(_ID_BYTES).hex()
    return Account(account_id, label, tuple(sorted(scripts)), birthday)


class AccountRegistry:
    """The accounts, and which scripts are watched from which height."""

    def __init__(self, accounts: Sequence[Account] = (), *,
                 max_accounts: int = MAX_ACCOUNTS) -> None:
        self.max_accounts = max_accounts
        self._accounts: dict[str, Account] = {}
        self._users: dict[bytes, set[str]] = {}
        for account in accounts:
            self.add(account)

    def __len__(self) -> int:
        return len(self._accounts)

    def __iter__(self) -> Iterator[Account]:
        return iter(self._accounts.values())

    def __contains__(self, account_id: object) -> bool:
        return account_id in self._accounts

    def get(self, account_id: str) -> Account | None:
        return self._accounts.get(account_id)

    def add(self, account: Account) -> None:
        if account.id in self._accounts:
            raise StateError(f"account id {account.id} is taken")
        if len(self._accounts) >= self.max_accounts:
            raise StateError(f"this node holds at most {self.max_accounts} accounts")
        self._accounts[account.id] = account
        for script in account.scripts:
            self._users.setdefault(script, set()).add(account.id)

    def remove(self, account_id: str) -> Account | None:
        """Remove an account; returns it (None when unknown)."""
        account = self._accounts.pop(account_id, None)
        if account is None:
            return None
        for script in account.scripts:
            users = self._users[script]
            users.discard(account_id)
            if not users:
                del self._users[script]
        return account

    def start_heights(self) -> dict[bytes, int]:
        """Every watched script and the lowest birthday among its accounts."""
        return {script: min(self._accounts[a].birthday for a in users)
                for script, users in self._users.items()}

    def start_height(self, script: bytes) -> int | None:
        users = self._users.get(script)
        return min(self._accounts[a].birthday for a in users) if users else None

    def accounts_of(self, script: bytes) -> tuple[Account, ...]:
        return tuple(self._accounts[a] for a in sorted(self._users.get(script, ())))

    def scripts(self) -> Mapping[bytes, set[str]]:
        return self._users


def account_state(account: Account, ledger: Ledger) -> AccountState:
    """The account's coins and history: what a scan from its birthday alone would find."""
    born = account.birthday
    coins: list[Coin] = []
    history: list[Movement] = []
    for script in account.scripts:
        coins.extend(c for c in ledger.coins_of(script) if c.height >= born)
        history.extend(m for m in ledger.history_of(script) if m.coin.height >= born)
    coins.sort(key=lambda c: (c.height, c.pos, c.outpoint.txid, c.outpoint.vout))
    history.sort(key=lambda m: m.sort_key)
    return AccountState(account, tuple(coins), tuple(history))


