"""Synthetic regtest-PoW header chains; the generator lives in ``aureond.stress.chaingen``."""

from __future__ import annotations

from aureond.stress.chaingen import REGTEST_BITS, REGTEST_WORK, extend, make_chain, make_genesis

__all__ = ["REGTEST_BITS", "REGTEST_WORK", "extend", "make_chain", "make_genesis"]
