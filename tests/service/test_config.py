"""Configuration: defaults < file < ``AUREOND_*`` environment < CLI flags; every bad or
unknown key is refused with the key named."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aureond.api.settings import ApiSettings
from aureond.errors import ConfigError
from aureond.service import config as config_module
from aureond.service.config import (
    HttpConfig,
    Settings,
    load_settings,
    parse_hostport,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AUREOND_* variable and no /etc/aureond file leaks into a test."""
    for name in list(os.environ):
        if name.upper().startswith("AUREOND_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(config_module, "DEFAULT_CONFIG", tmp_path / "absent.toml")


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "aureond.toml"
    path.write_text(text)
    return path


# --- precedence -------------------------------------------------------------------------

FILE = """
network = "testnet4"
shutdown_timeout = 7
[http]
listen = "127.0.0.1:1001"
rate_burst = 5
access_log = true
[p2p]
connect = ["10.0.0.1:18333", "10.0.0.2:18333"]
max_outbound = 3
"""


@pytest.mark.parametrize(
    ("env", "overrides", "expected"),
    [
        pytest.param({}, {}, {"network": "testnet4", "listen": "127.0.0.1:1001",
                              "burst": 5, "max_outbound": 3, "shutdown": 7.0},
                     id="file-only"),
        pytest.param({"AUREOND_NETWORK": "signet", "AUREOND_HTTP__RATE_BURST": "9"}, {},
                     {"network": "signet", "listen": "127.0.0.1:1001", "burst": 9,
                      "max_outbound": 3, "shutdown": 7.0}, id="env-over-file"),
        pytest.param({"AUREOND_NETWORK": "signet", "AUREOND_HTTP__LISTEN": "127.0.0.1:2002"},
                     {"network": "regtest", "http": {"listen": "127.0.0.1:3003"}},
                     {"network": "regtest", "listen": "127.0.0.1:3003", "burst": 5,
                      "max_outbound": 3, "shutdown": 7.0}, id="cli-over-env-and-file"),
        pytest.param({"AUREOND_SHUTDOWN_TIMEOUT": "2.5", "AUREOND_P2P__MAX_OUTBOUND": "4"},
                     {}, {"network": "testnet4", "listen": "127.0.0.1:1001", "burst": 5,
                          "max_outbound": 4, "shutdown": 2.5}, id="env-numbers"),
    ])
def test_file_then_environment_then_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          env: dict[str, str], overrides: dict[str, Any],
                                          expected: dict[str, Any]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(_file(tmp_path, FILE), overrides)
    got = {"network": settings.network, "listen": settings.http.listen,
           "burst": settings.http.rate_burst, "max_outbound": settings.p2p.max_outbound,
           "shutdown": settings.shutdown_timeout}
    assert got == expected
    # A section overridden in part keeps the rest of what the file said.
    assert settings.http.access_log is True


def test_flags_replace_a_list_from_the_file(tmp_path: Path) -> None:
    settings = load_settings(_file(tmp_path, FILE), {"p2p": {"connect": ["127.0.0.1:9"]}})
    assert settings.p2p.connect == ["127.0.0.1:9"]
    assert settings.p2p.max_outbound == 3


def test_defaults_without_a_file() -> None:
    settings = load_settings()
    assert (settings.network, settings.http.listen, settings.shutdown_timeout) == (
        "mainnet", "127.0.0.1:8787", 10.0)
    assert settings.log.format == "auto"
    assert settings.p2p.dns_seeds is True


def test_the_file_can_come_from_aureond_config(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUREOND_CONFIG", str(_file(tmp_path, 'network = "signet"\n')))
    assert load_settings().network == "signet"


def test_the_default_file_is_read_when_present(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config_module, "DEFAULT_CONFIG", _file(tmp_path, 'network = "regtest"'))
    assert load_settings().network == "regtest"


def test_settings_are_frozen_and_render_as_json() -> None:
    settings = load_settings(None, {"data_dir": Path("/srv/a")})
    with pytest.raises(ValueError, match="frozen"):
        settings.network = "x"
    public = settings.public_dict()
    assert public["data_dir"] == "/srv/a"
    assert Settings(**public) == settings


# --- refusals name the key ---------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "env", "overrides", "key", "says"),
    [
        pytest.param("netwrok = 'mainnet'\n", {}, {}, "netwrok", "unknown key", id="file-top"),
        pytest.param("[http]\nlisen = '127.0.0.1:1'\n", {}, {}, "http.lisen", "unknown key",
                     id="file-nested"),
        pytest.param("[htp]\nlisten = '127.0.0.1:1'\n", {}, {}, "htp", "unknown key",
                     id="file-section"),
        pytest.param("", {"AUREOND_P2P__CONECT": '["a:1"]'}, {}, "AUREOND_P2P__CONECT",
                     "unknown environment variable", id="env-nested"),
        pytest.param("shutdown_timeout = 0\n", {}, {}, "shutdown_timeout", "greater than",
                     id="file-range"),
        pytest.param("[log]\nlevel = 'loud'\n", {}, {}, "log.level", "'debug'",
                     id="file-choice"),
        pytest.param("", {"AUREOND_HTTP__MAX_BODY_BYTES": "12"}, {}, "http.max_body_bytes",
                     "greater than", id="env-range"),
        pytest.param("", {"AUREOND_P2P__DNS_SEEDS": "perhaps"}, {}, "p2p.dns_seeds",
                     "boolean", id="env-type"),
        pytest.param("", {}, {"http": {"listen": "127.0.0.1"}}, "http.listen",
                     "needs a port", id="cli-no-port"),
        pytest.param("", {}, {"p2p": {"connect": ["host:99999"]}}, "p2p.connect",
                     "1-65535", id="cli-port-range"),
        pytest.param("[anchor]\nheight = 5\n", {}, {}, "anchor.header", "Field required",
                     id="file-missing-field"),
        pytest.param("[p2p\n", {}, {}, "config", "aureond.toml", id="toml-syntax"),
        pytest.param("[http]\nhead_timeout = 0\n", {}, {}, "http.head_timeout",
                     "greater than", id="file-timeout"),
        pytest.param("", {"AUREOND_HTTP__MAX_CONNECTIONS": "-1"}, {}, "http.max_connections",
                     "greater than or equal", id="env-connections"),
    ])
def test_a_bad_key_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str,
                            env: dict[str, str], overrides: dict[str, Any], key: str,
                            says: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(_file(tmp_path, text), overrides)
    assert caught.value.field == key
    assert says in caught.value.reason
    assert str(caught.value).startswith(f"{key}: ")


def test_the_shipped_config_documents_the_http_defaults() -> None:
    shipped = load_settings(Path(__file__).resolve().parents[2] / "config" / "aureond.toml")
    assert shipped.http == HttpConfig()
    assert (shipped.http.max_connections, shipped.http.head_timeout) == (0, 10.0)


def test_the_client_limits_reach_the_api_with_the_same_defaults() -> None:
    assert ApiSettings(**HttpConfig().client_limits()) == ApiSettings()
    tight = HttpConfig(head_timeout=0.5, max_connections=64).client_limits()
    assert (ApiSettings(**tight).head_timeout, ApiSettings(**tight).max_connections) == (0.5, 64)


@pytest.mark.parametrize(("text", "key", "meant"), [
    ("netwrok = 'mainnet'\n", "netwrok", "network"),
    ("[http]\nlistn = '127.0.0.1:1'\n", "http.listn", "http.listen"),
    ("[p2p]\nmax_outbund = 2\n", "p2p.max_outbund", "p2p.max_outbound"),
    ("[htp]\nlisten = '127.0.0.1:1'\n", "htp", "http"),
])
def test_a_misspelt_key_gets_a_did_you_mean(tmp_path: Path, text: str, key: str,
                                            meant: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_file(tmp_path, text))
    assert caught.value.field == key
    assert caught.value.reason.startswith(f"unknown key (did you mean {meant}?); ")


def test_an_unknown_key_lists_the_keys_of_its_section(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_file(tmp_path, "[store]\nzqxv = 1\n"))
    assert caught.value.reason == ("unknown key; [store] takes " + ", ".join(
        sorted(config_module.StoreConfig.model_fields)))


def test_an_unknown_top_level_key_lists_keys_and_sections(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_file(tmp_path, "zqxv = 1\n"))
    reason = caught.value.reason
    assert "did you mean" not in reason
    for name in ("data_dir", "network", "network_profile", "shutdown_timeout"):
        assert name in reason
    for section in ("[http]", "[p2p]", "[store]", "[state]", "[log]", "[anchor]"):
        assert section in reason


def test_a_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "nope.toml")
    assert caught.value.field == "config"
    assert "does not exist" in caught.value.reason


# --- HOST:PORT ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        ("127.0.0.1:8787", None, ("127.0.0.1", 8787)),
        (" node.example:8333 ", None, ("node.example", 8333)),
        ("[::1]:18444", None, ("::1", 18444)),
        ("[2001:db8::1]", 8333, ("2001:db8::1", 8333)),
        ("::1", 8333, ("::1", 8333)),
        ("seed.example", 18333, ("seed.example", 18333)),
        ("h:1", None, ("h", 1)),
        ("h:65535", None, ("h", 65535)),
    ])
def test_hostport_accepted(text: str, default: int | None, expected: tuple[str, int]) -> None:
    assert parse_hostport(text, default) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [("127.0.0.1", "needs a port"), ("h:0", "1-65535"), ("h:65536", "1-65535"),
     (":80", "1-65535"), ("h:port", "not a number"), ("[::1]", "needs a port")])
def test_hostport_refused(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_hostport(text)


@given(st.integers(1, 65535), st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True))
def test_hostport_round_trips(port: int, host: str) -> None:
    assert parse_hostport(f"{host}:{port}") == (host, port)
    assert parse_hostport(f"[{host}]:{port}") == (host, port)


