"""Misspelt AUREOND_* environment variables are refused like unknown file keys."""

from __future__ import annotations

import pytest

from aureond.errors import ConfigError
from aureond.service.config import load_settings


def test_misspelt_top_level_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUREOND_NETWROK", "regtest")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.field == "AUREOND_NETWROK"


def test_tooling_variables_are_not_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUREOND_TEST_DATA", "/nowhere")
    monkeypatch.setenv("AUREOND_NODE_BIN", "/nowhere")
    monkeypatch.setenv("AUREOND_NETWORK", "regtest")
    assert load_settings().network == "regtest"
