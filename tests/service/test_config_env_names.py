"""Misspelt AUREOND_* environment variables are refused like unknown file keys."""

from __future__ import annotations

import pytest

from aureond.errors import ConfigError
from aureond.service.config import HttpConfig, load_settings


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


@pytest.mark.parametrize(("name", "meant"), [
    ("AUREOND_HTTP__LISTN", "AUREOND_HTTP__LISTEN"),
    ("AUREOND_P2P__CONECT", "AUREOND_P2P__CONNECT"),
    ("AUREOND_HTP__LISTN", "AUREOND_HTTP__LISTEN"),      # the section misspelt too
    ("AUREOND_HTTP__LISTEN__PORT", "AUREOND_HTTP__LISTEN"),
    ("AUREOND_DATADIR", "AUREOND_DATA_DIR"),
])
def test_a_misspelt_variable_is_named_with_what_it_may_mean(
        monkeypatch: pytest.MonkeyPatch, name: str, meant: str) -> None:
    monkeypatch.setenv(name, "127.0.0.1:1")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.field == name
    assert f"unknown environment variable (did you mean {meant}?)" in info.value.reason


def test_a_misspelt_section_key_lists_the_variables_of_the_section(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUREOND_HTTP__LISTN", "127.0.0.1:1")
    with pytest.raises(ConfigError) as info:
        load_settings()
    listed = info.value.reason.split("AUREOND_HTTP__<KEY> for ", 1)[1].split(", ")
    assert listed == sorted(HttpConfig.model_fields)


def test_a_name_far_from_every_setting_gets_no_guess(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUREOND_ZQXV", "1")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "did you mean" not in info.value.reason
    assert "AUREOND_NETWORK" in info.value.reason
    assert "AUREOND_HTTP__<KEY>" in info.value.reason


def test_a_value_is_not_a_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUREOND_NETWORK__NAME", "regtest")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.field == "AUREOND_NETWORK__NAME"
    assert "set AUREOND_NETWORK" in info.value.reason


def test_the_accounts_client_token_is_not_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUREOND_HTTP_TOKEN", "secret")  # read by `aureond accounts`
    monkeypatch.setenv("AUREOND_HTTP__LISTEN", "127.0.0.1:9")
    assert load_settings().http.listen == "127.0.0.1:9"
