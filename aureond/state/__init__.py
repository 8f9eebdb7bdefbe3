"""Watched accounts proven by SPV, kept as compressed, merkle-committed snapshots.

Flow: the block fetcher (:mod:`~aureond.state.blockfetch`) downloads full blocks of the
best chain and checks each against our validated header; the scanner
(:mod:`~aureond.state.scanner`) finds credits and debits of the watched scripts; the
ledger (:mod:`~aureond.state.ledger`) applies them with undo records (reorgs undo down
to the fork point); snapshots (:mod:`~aureond.state.snapshot`) commit every account's
state under a merkle root and are stored atomically (:mod:`~aureond.state.store`).
Accounts and addresses: :mod:`~aureond.state.accounts`, :mod:`~aureond.state.addresses`.
What the HTTP API needs: :class:`~aureond.state.view.StateView`.
"""
